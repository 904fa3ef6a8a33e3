from setuptools import setup

# A project of the old kind: no pyproject.toml, its name said only by running this file.
setup(name="legacy-demo", version="0.3.0", py_modules=["legacy_demo"])
