"""Command-line runners over the kcnn library: train, evaluate, export, predict."""
