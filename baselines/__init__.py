"""The model zoo: one module per model family, each exposing a ModelSpec found by entry point."""
