"""Trivial baselines on fashion_scenes, scored by kcnn-train's own metrics (kcnn.training.metrics).

  python tools/segmentation_baselines.py                       # test split, rules fit on train[:2000]
  python tools/segmentation_baselines.py --test_split=test[:500]

* all background: every pixel class 0.
* threshold: a pixel brighter than fashion_scenes' labelling threshold gets the most
  frequent item class of the training pixels, the others background (so background and
  items are told apart exactly; only the item's class is a guess).
* intensity lookup: each gray value 0..255 gets the class most frequent at that value in
  the training canvases (the best any rule reading one pixel's value can do on train).

Every network should beat all three clearly; they read no neighbourhood at all.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

flags.DEFINE_string("train_split", "train[:2000]", "canvases the threshold and lookup rules are fit on")
flags.DEFINE_string("test_split", "test", "canvases they are scored on")
FLAGS = flags.FLAGS


def arrays(split):
    import numpy as np

    from kcnn import data as kdata

    pairs = [(x.numpy()[..., 0], y.numpy()) for x, y in kdata.load("fashion_scenes", split)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def main(argv):
    import numpy as np

    from kcnn.data import scenes
    from kcnn.training.metrics import segmentation_metrics

    k = len(scenes.CLASS_NAMES)
    train_x, train_y = arrays(FLAGS.train_split)
    test_x, test_y = arrays(FLAGS.test_split)
    counts = np.zeros((256, k))
    np.add.at(counts, (train_x.ravel(), train_y.ravel()), 1)
    lookup = counts.argmax(1)
    majority = 1 + counts[:, 1:].sum(0).argmax()
    rules = {
        "all background": np.zeros_like(test_y),
        f"threshold (> {scenes.THRESHOLD}: {scenes.CLASS_NAMES[majority]})": np.where(
            test_x > scenes.THRESHOLD, majority, 0
        ),
        "intensity lookup": lookup[test_x],
    }
    print(f"fashion_scenes {FLAGS.test_split} ({len(test_y)} canvases); rules fit on {FLAGS.train_split}")
    print("| baseline | mIoU | pixel accuracy |\n|---|---:|---:|")
    for name, predicted in rules.items():
        confusion = np.zeros((k, k))
        np.add.at(confusion, (test_y.ravel(), predicted.ravel()), 1)
        m = segmentation_metrics(confusion, scenes.CLASS_NAMES)
        print(f"| {name} | {m['mean_iou']:.4f} | {m['pixel_accuracy']:.4f} |")


if __name__ == "__main__":
    app.run(main)
