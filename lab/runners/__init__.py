"""Runner backends: where a builder runs, isolated like a CI runner."""
