"""A project whose description is its README.md."""
