"""A project whose README is assembled from fragments by hatch-fancy-pypi-readme."""
