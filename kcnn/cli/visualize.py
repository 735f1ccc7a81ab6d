"""look inside a network: first-layer filters, feature maps, Grad-CAM and activation statistics (PNG).

  kcnn-visualize --model_dir=runs/demo --out=viz                     # test image 0 of the run's dataset
  kcnn-visualize --model_dir=runs/demo --test_image=7 --layers=c1,c3 --out=viz
  kcnn-visualize --keras=model.keras --image=shoe.png --what=gradcam --class_index=7 --out=viz
  kcnn-visualize --model=resnet20 --dataset=fashion_mnist --what=stats --out=viz

Writes into --out: filters.png (the first convolution's filters), feature_maps.png (the
strongest maps of --layers; default: the first convolution and Grad-CAM's target),
grad_cam.png (the evidence for --class_index, default the predicted class, at
--target_layer, default the last layer with a spatial map) and activation_statistics.png
with activation_statistics.csv (mean, std and fraction of zeros of every layer on
--batch_size test images). Layer names are paths (backbone/conv1 inside nested models);
an unknown one is refused with the nearest names. An image of another size than the
model's is refused unless --resize; it is never cropped. Grad-CAM runs under the
TensorFlow, torch and JAX backends.
"""

from __future__ import annotations

import os

from absl import flags

from kcnn.cli import _common

PROG = "kcnn-visualize"
DOC = __doc__
WHAT = ("filters", "features", "gradcam", "stats")
FLAGS = flags.FlagValues()
flags.DEFINE_string("model_dir", None, "a kcnn-train run directory (model.keras, config.json)", flag_values=FLAGS)
flags.DEFINE_string("keras", None, "a .keras file", flag_values=FLAGS)
flags.DEFINE_string("model", None, "a registered model name (fresh random weights)", flag_values=FLAGS)
flags.DEFINE_string("dataset", None, "with --keras or --model: the dataset test images come from", flag_values=FLAGS)
flags.DEFINE_string("image", None, "an image file (PNG, JPEG, ...) on the 0-255 scale", flag_values=FLAGS)
flags.DEFINE_integer(
    "test_image", 0, "without --image: this example of the test split", lower_bound=0, flag_values=FLAGS
)
flags.DEFINE_list("what", list(WHAT), f"comma list of {', '.join(WHAT)}", flag_values=FLAGS)
flags.DEFINE_list(
    "layers", None, "feature maps of these layers (default: first conv and Grad-CAM's target)", flag_values=FLAGS
)
flags.DEFINE_string("target_layer", None, "Grad-CAM's layer (default: the last spatial one)", flag_values=FLAGS)
flags.DEFINE_integer(
    "class_index", None, "Grad-CAM's class (default: the predicted one)", lower_bound=0, flag_values=FLAGS
)
flags.DEFINE_integer("batch_size", 64, "test images for the activation statistics", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_bool("resize", False, "resize an image of another size to the model's (never cropped)", flag_values=FLAGS)
flags.DEFINE_string("out", None, "directory the PNG files go to (created if missing)", flag_values=FLAGS)


def _check_flags():
    sources = [n for n in ("model_dir", "keras", "model") if FLAGS[n].value is not None]
    if len(sources) != 1:
        _common.fail(PROG, "give exactly one of --model_dir, --keras, --model (where the network comes from)")
    if FLAGS.dataset is not None and FLAGS.model_dir is not None:
        _common.fail(PROG, "--dataset: the run directory names its dataset; --dataset goes with --keras or --model")
    bad = [w for w in FLAGS.what if w not in WHAT]
    if bad or not FLAGS.what:
        _common.fail(PROG, f"--what: {','.join(bad) or '(empty)'} is not one of {', '.join(WHAT)}")
    if FLAGS.out is None:
        _common.fail(PROG, "--out: required (the directory the PNG files go to)")
    _common.check_output(PROG, "--out", FLAGS.out, directory=True)
    if FLAGS.image is None and FLAGS.model_dir is None and FLAGS.dataset is None:
        _common.fail(PROG, "--image: required unless a dataset is known (--model_dir, or --dataset)")
    return sources[0]


def main(argv):
    if len(argv) > 1:
        _common.fail(PROG, f"unexpected arguments {' '.join(argv[1:])!r} (all options are --flags)")
    which = _check_flags()
    _common.quiet_logs(PROG)
    _common.import_tensorflow_quietly()
    from kcnn import viz
    from kcnn.analysis import runs

    try:
        if which == "model_dir":
            source = runs.from_model_dir(FLAGS.model_dir)
        elif which == "keras":
            source = runs.from_keras(FLAGS.keras, dataset=FLAGS.dataset)
        else:
            source = runs.from_registry(FLAGS.model, dataset=FLAGS.dataset)
    except ValueError as err:
        _common.fail(PROG, f"--{which}: {err}")
    model, label_name = source.model, None
    try:
        if FLAGS.image is not None:
            image = runs.read_image(FLAGS.image, source.image_shape[2])
            image = viz.prepare_image(model, image, resize=FLAGS.resize)[0]
        else:
            image, _, label_name = source.example(source.test_split, FLAGS.test_image)
    except ValueError as err:
        _common.fail(PROG, f"--{'image' if FLAGS.image else 'test_image'}: {err}")
    for flag in ("layers", "target_layer"):
        for name in [FLAGS[flag].value] if isinstance(FLAGS[flag].value, str) else FLAGS[flag].value or []:
            try:
                viz.features.find_layer(model, name)
            except ValueError as err:
                _common.fail(PROG, f"--{flag}: {err}")
    classes = model.outputs[0].shape[-1]
    if FLAGS.class_index is not None and "gradcam" in FLAGS.what and FLAGS.class_index >= classes:
        _common.fail(
            PROG, f"--class_index: {FLAGS.class_index} is out of range: model {model.name!r} has {classes} classes"
        )
    if "stats" in FLAGS.what:  # read before anything is written
        try:
            batch = source.batches(source.test_split, FLAGS.batch_size, 1)[0][0] if source.dataset else image[None]
        except ValueError as err:
            _common.fail(PROG, f"--batch_size: {err}")
    os.makedirs(FLAGS.out, exist_ok=True)
    written = []
    names = source.class_names()
    if "filters" in FLAGS.what:
        layer = viz.plot_filters(model, os.path.join(FLAGS.out, "filters.png"))
        written.append(f"filters.png ({layer})")
    if "gradcam" in FLAGS.what:
        try:
            cam = viz.grad_cam(model, image, class_index=FLAGS.class_index, layer=FLAGS.target_layer)
        except ValueError as err:
            _common.fail(PROG, f"--class_index: {err}" if "class_index" in str(err) else str(err))
        name = names[cam["class_index"]] if names and cam["class_index"] < len(names) else None
        viz.plot_grad_cam(image, cam, os.path.join(FLAGS.out, "grad_cam.png"), class_name=name)
        written.append(f"grad_cam.png (class {cam['class_index']}{f' {name}' if name else ''} at {cam['layer']})")
    if "features" in FLAGS.what:
        layers = FLAGS.layers or list(
            dict.fromkeys([viz.first_conv_layer(model), viz.default_target_layer(model, image.shape)])
        )
        viz.plot_feature_maps(model, image, layers, os.path.join(FLAGS.out, "feature_maps.png"))
        written.append(f"feature_maps.png ({', '.join(layers)})")
    if "stats" in FLAGS.what:
        stats = viz.activation_statistics(model, batch)
        viz.plot_activation_statistics(stats, os.path.join(FLAGS.out, "activation_statistics.png"), title=model.name)
        _write_stats_csv(stats, os.path.join(FLAGS.out, "activation_statistics.csv"))
        written.append(f"activation_statistics.png and .csv ({len(batch)} images, {len(stats)} layers)")
    if label_name is not None:
        print(f"{PROG}: test image {FLAGS.test_image} of {source.dataset} ({label_name})")
    for line in written:
        print(f"{PROG}: wrote {os.path.join(FLAGS.out, line)}", flush=True)


def _write_stats_csv(stats, path):
    from kcnn.io import atomic_write_text

    lines = ["layer,type,mean,std,zero_fraction"]
    lines += [f"{s.layer},{s.type},{s.mean:.6g},{s.std:.6g},{s.zero_fraction:.6g}" for s in stats]
    atomic_write_text(path, "\n".join(lines) + "\n")


def parse_flags(argv):
    return _common.parse_flags(PROG, DOC, FLAGS, argv)


def run():
    _common.run_command(PROG, DOC, FLAGS, main)


if __name__ == "__main__":
    run()
