"""A project whose build hook decides part of its dependencies."""
