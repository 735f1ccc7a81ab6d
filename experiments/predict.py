"""`python experiments/predict.py` runs kcnn-predict (kcnn.cli.predict) from a checkout; the logic is in the package."""

from kcnn.cli.predict import run

if __name__ == "__main__":
    run()
