"""A module of a setup.py-only project."""

ANSWER = 42
