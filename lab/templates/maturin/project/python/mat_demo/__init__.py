"""A package whose work is done in Rust, through pyo3."""
