"""A project whose description is its README.rst."""
