"""`python experiments/train.py` runs kcnn-train (kcnn.cli.train) from a checkout; the logic is in the package."""

from kcnn.cli.train import run

if __name__ == "__main__":
    run()
