"""What one layer call costs and how it moves the receptive field: one rule per layer type.

``RULES`` maps a class name to a function ``rule(layer, inputs, output) -> Cost`` over the
call's input and output shapes (batch axis first, channels last). The rule of the first
class in a layer's MRO that has one applies, so a subclass of ``Conv2D`` is counted as a
convolution. Adding a layer type is one entry; a layer with no rule is reported as
uncounted, never as free.

Counts, per example (the batch axis is not counted):

* ``macs``: multiply-accumulates of convolutions and fully connected layers, the figure
  torchvision and ptflops report: ``H_out * W_out * k_h * k_w * C_in / groups * C_out`` for
  a convolution (a transposed convolution: ``H_in * W_in * ...``, what each input pixel
  scatters), ``C_in * units`` per position for a dense layer.
* ``bias_adds``: one per output element of a convolution or dense layer with a bias; the
  notes' FLOPs formula ``H * W * (k_w * k_h * C_in + 1) * C_out`` is ``macs + bias_adds``.
* ``ops``: everything else, one per elementary operation and counted apart so that the
  ``macs`` total compares with torchvision's: 2 per element for normalization and affine
  rescaling (scale and shift, BatchNorm folded), 1 per element for an activation, window
  size per output for pooling, ``n - 1`` per element for an n-input merge (0 for
  concatenation and other data movement).
"""

from __future__ import annotations

import dataclasses
import math

__all__ = ["Cost", "Window", "RULES", "rule_for", "NO_COST"]


@dataclasses.dataclass(frozen=True)
class Window:
    """How a layer moves the receptive field along each spatial axis.

    ``kind``: ``"sliding"`` (a window of ``kernel`` taps, dilation included, every ``strides``
    pixels), ``"transposed"`` (a transposed convolution: the output grid is ``strides`` times
    finer), ``"upsample"`` (``strides`` = the upsampling factor, ``kernel`` 1 for nearest,
    2 for bilinear), ``"global"`` (every output sees the whole input map), ``"keep"`` (padding,
    cropping: the grid may grow or shrink at the borders, fields and jumps stay).
    """

    kind: str
    kernel: tuple = ()
    strides: tuple = ()


@dataclasses.dataclass(frozen=True)
class Cost:
    macs: int = 0
    bias_adds: int = 0
    ops: int = 0
    window: Window | None = None


NO_COST = Cost()
GLOBAL = Window("global")
KEEP = Cost(window=Window("keep"))


def _elements(shape) -> int:
    return math.prod(shape[1:])


def _spatial(shape, data_format="channels_last") -> tuple:
    return tuple(shape[2:]) if data_format == "channels_first" else tuple(shape[1:-1])


def _channels(shape, data_format="channels_last") -> int:
    return shape[1] if data_format == "channels_first" else shape[-1]


def _tuple(value, n: int) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _activation_ops(layer, out) -> int:
    act = getattr(layer, "activation", None)
    if act is None or getattr(act, "__name__", "") == "linear":
        return 0
    return _elements(out)


def _sliding(layer, out, kernel_attr="kernel_size", strides_attr="strides", dilation_attr="dilation_rate"):
    fmt = getattr(layer, "data_format", "channels_last")
    n = len(_spatial(out, fmt))
    kernel = _tuple(getattr(layer, kernel_attr), n)
    strides = _tuple(getattr(layer, strides_attr, None) or kernel, n)
    dilation = _tuple(getattr(layer, dilation_attr, 1) or 1, n)
    return Window("sliding", tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation)), strides), kernel


def conv(layer, inputs, out) -> Cost:
    """Conv1D/2D/3D, grouped included."""
    fmt = getattr(layer, "data_format", "channels_last")
    window, kernel = _sliding(layer, out)
    c_in = _channels(inputs[0], fmt) // getattr(layer, "groups", 1)
    macs = math.prod(_spatial(out, fmt)) * math.prod(kernel) * c_in * _channels(out, fmt)
    bias = _elements(out) if layer.use_bias else 0
    return Cost(macs, bias, _activation_ops(layer, out), window)


def depthwise_conv(layer, inputs, out) -> Cost:
    """DepthwiseConv1D/2D: each output channel sees one input channel."""
    window, kernel = _sliding(layer, out)
    macs = _elements(out) * math.prod(kernel)
    return Cost(macs, _elements(out) if layer.use_bias else 0, _activation_ops(layer, out), window)


def separable_conv(layer, inputs, out) -> Cost:
    """SeparableConv1D/2D: a depthwise convolution then a 1x1 pointwise one."""
    fmt = getattr(layer, "data_format", "channels_last")
    window, kernel = _sliding(layer, out)
    mid = _channels(inputs[0], fmt) * layer.depth_multiplier
    positions = math.prod(_spatial(out, fmt))
    macs = positions * mid * (math.prod(kernel) + _channels(out, fmt))
    return Cost(macs, _elements(out) if layer.use_bias else 0, _activation_ops(layer, out), window)


def conv_transpose(layer, inputs, out) -> Cost:
    """Conv1D/2D/3DTranspose: every input pixel scatters k_h * k_w * C_out products."""
    fmt = getattr(layer, "data_format", "channels_last")
    n = len(_spatial(out, fmt))
    kernel = _tuple(layer.kernel_size, n)
    dilation = _tuple(getattr(layer, "dilation_rate", 1) or 1, n)
    c_in = _channels(inputs[0], fmt) // getattr(layer, "groups", 1)
    macs = math.prod(_spatial(inputs[0], fmt)) * math.prod(kernel) * c_in * _channels(out, fmt)
    window = Window("transposed", tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation)), _tuple(layer.strides, n))
    return Cost(macs, _elements(out) if layer.use_bias else 0, _activation_ops(layer, out), window)


def dense(layer, inputs, out) -> Cost:
    """Dense: C_in * units per position (a dense layer on a feature map acts as a 1x1 convolution)."""
    positions = math.prod(out[1:-1])
    macs = positions * inputs[0][-1] * out[-1]
    window = Window("sliding", (1,) * (len(out) - 2), (1,) * (len(out) - 2)) if len(out) > 2 else None
    return Cost(macs, _elements(out) if layer.use_bias else 0, _activation_ops(layer, out), window)


def connection_table_conv(layer, inputs, out) -> Cost:
    """kcnn ConnectionTableConv2D (LeNet-5's C3): only the connected input maps are multiplied."""
    connections = sum(len(row) for row in layer.table)
    macs = math.prod(out[1:-1]) * layer.kernel_size**2 * connections
    window = Window("sliding", (layer.kernel_size,) * 2, (1, 1))
    return Cost(macs, _elements(out), _activation_ops(layer, out), window)


def pooling(layer, inputs, out) -> Cost:
    """Max / average / stochastic pooling: one operation per window tap and output."""
    window, kernel = _sliding(layer, out, kernel_attr="pool_size", dilation_attr="_no_dilation")
    return Cost(ops=_elements(out) * math.prod(kernel), window=window)


def subsampling(layer, inputs, out) -> Cost:
    """kcnn Subsampling2D (LeNet-5's S2/S4): window sum, one coefficient, one bias per output."""
    p = layer.pool_size
    return Cost(
        ops=_elements(out) * (p * p + 1) + _activation_ops(layer, out), window=Window("sliding", (p, p), (p, p))
    )


def global_pooling(layer, inputs, out) -> Cost:
    return Cost(ops=_elements(inputs[0]), window=GLOBAL)


def flatten(layer, inputs, out) -> Cost:
    return Cost(window=GLOBAL if len(inputs[0]) > 2 else None)


def per_element(count: int):
    def rule(layer, inputs, out) -> Cost:
        return Cost(ops=count * _elements(out))

    rule.__doc__ = f"{count} operation(s) per output element."
    return rule


def merge(layer, inputs, out) -> Cost:
    """Add, Multiply, Maximum, ...: n - 1 operations per element for n inputs."""
    return Cost(ops=(len(inputs) - 1) * _elements(out))


def activation(layer, inputs, out) -> Cost:
    return Cost(ops=_elements(out))


def lrn(layer, inputs, out) -> Cost:
    """kcnn LocalResponseNormalization: a window of ``size`` squares summed, then k + alpha*s, power, divide."""
    return Cost(ops=_elements(out) * (2 * layer.size + 3))


def maxout(layer, inputs, out) -> Cost:
    return Cost(ops=_elements(out) * (layer.pieces - 1))


def zero_pad_shortcut(layer, inputs, out) -> Cost:
    """kcnn ZeroPadShortcut: subsampling and zero channels, no arithmetic."""
    n = len(out) - 2
    return Cost(window=Window("sliding", (1,) * n, (layer.strides,) * n))


def upsampling(layer, inputs, out) -> Cost:
    n = len(out) - 2
    bilinear = getattr(layer, "interpolation", "nearest") != "nearest"
    kernel = (2 if bilinear else 1,) * n
    return Cost(ops=4 * _elements(out) if bilinear else 0, window=Window("upsample", kernel, _tuple(layer.size, n)))


def unpooling(layer, inputs, out) -> Cost:
    """Max unpooling (SegNet): every input value is written to one place of a ``pool_size`` times
    larger grid; one operation per output element."""
    n = len(out) - 2
    return Cost(ops=_elements(out), window=Window("upsample", (1,) * n, _tuple(layer.pool_size, n)))


RULES = {
    # convolutions and fully connected layers: the torchvision-comparable MACs
    "BaseConv": conv,
    "BaseDepthwiseConv": depthwise_conv,
    "BaseSeparableConv": separable_conv,
    "BaseConvTranspose": conv_transpose,
    "Dense": dense,
    "ConnectionTableConv2D": connection_table_conv,
    # pooling and subsampling
    "BasePooling": pooling,
    "CeilModeMaxPooling2D": pooling,
    "MaxPoolingWithArgmax2D": pooling,  # kcnn.layers (segmentation), two outputs: values and indices
    "MaxUnpooling2D": unpooling,
    "StochasticPooling2D": pooling,
    "Subsampling2D": subsampling,
    "BaseGlobalPooling": global_pooling,
    "UpSampling1D": upsampling,
    "UpSampling2D": upsampling,
    "UpSampling3D": upsampling,
    # normalization and affine rescaling: scale and shift
    "BatchNormalization": per_element(2),
    "LayerNormalization": per_element(2),
    "GroupNormalization": per_element(2),
    "UnitNormalization": per_element(2),
    "Normalization": per_element(2),
    "Rescaling": per_element(2),
    "LocalResponseNormalization": lrn,
    # activations
    "Activation": activation,
    "ReLU": activation,
    "LeakyReLU": activation,
    "PReLU": activation,
    "ELU": activation,
    "Softmax": activation,
    "Maxout": maxout,
    # merges
    "Add": merge,
    "Subtract": merge,
    "Multiply": merge,
    "Average": merge,
    "Maximum": merge,
    "Minimum": merge,
    "Concatenate": lambda layer, inputs, out: NO_COST,
    # data movement and training-only layers: no arithmetic at inference
    "InputLayer": lambda layer, inputs, out: NO_COST,
    "Flatten": flatten,
    "Reshape": lambda layer, inputs, out: NO_COST,
    "Permute": lambda layer, inputs, out: NO_COST,
    "RepeatVector": lambda layer, inputs, out: NO_COST,
    "Identity": lambda layer, inputs, out: NO_COST,
    "ZeroPadding1D": lambda layer, inputs, out: KEEP,
    "ZeroPadding2D": lambda layer, inputs, out: KEEP,
    "ZeroPadding3D": lambda layer, inputs, out: KEEP,
    "Cropping1D": lambda layer, inputs, out: KEEP,
    "Cropping2D": lambda layer, inputs, out: KEEP,
    "Cropping3D": lambda layer, inputs, out: KEEP,
    "Dropout": lambda layer, inputs, out: NO_COST,
    "SpatialDropout1D": lambda layer, inputs, out: NO_COST,
    "SpatialDropout2D": lambda layer, inputs, out: NO_COST,
    "SpatialDropout3D": lambda layer, inputs, out: NO_COST,
    "GaussianNoise": lambda layer, inputs, out: NO_COST,
    "GaussianDropout": lambda layer, inputs, out: NO_COST,
    "AlphaDropout": lambda layer, inputs, out: NO_COST,
    "ActivityRegularization": lambda layer, inputs, out: NO_COST,
    "ZeroPadShortcut": zero_pad_shortcut,
}


def rule_for(layer):
    """The rule of the first class in ``type(layer).__mro__`` listed in ``RULES``; None if none is."""
    for cls in type(layer).__mro__:
        rule = RULES.get(cls.__name__)
        if rule is not None:
            return rule
    return None
