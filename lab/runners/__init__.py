"""Runner backends: where a subject runs, isolated like a CI runner."""
