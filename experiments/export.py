"""`python experiments/export.py` runs kcnn-export (kcnn.cli.export) from a checkout; the logic is in the package."""

from kcnn.cli.export import run

if __name__ == "__main__":
    run()
