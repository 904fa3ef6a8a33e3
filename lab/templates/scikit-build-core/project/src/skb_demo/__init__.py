"""A package whose work is done in C, built by CMake."""
