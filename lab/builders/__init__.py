"""Builders run inside a runner and report what they do as history observations."""
