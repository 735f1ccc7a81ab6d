"""Gradients and Hessian-vector products of a model's loss, one implementation per Keras backend.

``H v`` is the gradient of ``g(w) . v`` (double backprop): TensorFlow with two nested
``GradientTape``s inside a ``tf.function``, torch with ``torch.autograd.grad(...,
create_graph=True)``, JAX with ``jax.jvp`` of ``jax.grad`` over ``stateless_call`` (jitted).
Every model call is ``model(x, training=False)``: BatchNorm uses its moving statistics and
dropout is off. Only vectors of the parameters' size are held: memory is O(parameters).

``make_functions(model, loss_fn)`` returns ``(loss_and_grad, hvp)`` over lists of
backend tensors shaped like ``model.trainable_weights``.
"""

from __future__ import annotations

import keras

__all__ = ["make_functions", "BACKENDS"]

BACKENDS = ("tensorflow", "torch", "jax")


def make_functions(model, loss_fn):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(model, loss_fn)
    if backend == "torch":
        return _torch(model, loss_fn)
    if backend == "jax":
        return _jax(model, loss_fn)
    raise ValueError(f"Hessian-vector products need one of the backends {BACKENDS}; Keras runs {backend!r}")


def _tensorflow(model, loss_fn):
    import tensorflow as tf

    weights = list(model.trainable_weights)
    zero = tf.UnconnectedGradients.ZERO

    @tf.function(reduce_retracing=True)
    def loss_and_grad(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=False))
        return loss, tape.gradient(loss, weights, unconnected_gradients=zero)

    @tf.function(reduce_retracing=True)
    def hvp(x, y, vectors):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = loss_fn(y, model(x, training=False))
            grads = inner.gradient(loss, weights, unconnected_gradients=zero)
            dot = tf.add_n([tf.reduce_sum(g * tf.cast(v, g.dtype)) for g, v in zip(grads, vectors)])
        return outer.gradient(dot, weights, unconnected_gradients=zero)

    return loss_and_grad, hvp


def _torch(model, loss_fn):
    import torch

    params = [w.value for w in model.trainable_weights]

    def _grads(x, y, create_graph):
        loss = loss_fn(y, model(x, training=False))
        grads = torch.autograd.grad(loss, params, create_graph=create_graph, allow_unused=True)
        return loss, [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]

    def loss_and_grad(x, y):
        with torch.enable_grad():
            loss, grads = _grads(x, y, create_graph=False)
        return loss.detach(), [g.detach() for g in grads]

    def hvp(x, y, vectors):
        with torch.enable_grad():
            _, grads = _grads(x, y, create_graph=True)
            dot = sum((g * v.to(g.dtype)).sum() for g, v in zip(grads, vectors))
            if not dot.requires_grad:  # the loss is linear in every weight
                return [torch.zeros_like(p) for p in params]
            hv = torch.autograd.grad(dot, params, allow_unused=True)
        return [torch.zeros_like(p) if h is None else h.detach() for p, h in zip(params, hv)]

    return loss_and_grad, hvp


def _jax(model, loss_fn):
    import jax

    non_trainable = [w.value for w in model.non_trainable_weights]

    def loss_of(trainable, x, y):
        y_pred, _ = model.stateless_call(trainable, non_trainable, x, training=False)
        return loss_fn(y, y_pred)

    grad_fn = jax.jit(jax.value_and_grad(loss_of))
    hvp_fn = jax.jit(lambda w, x, y, v: jax.jvp(lambda w_: jax.grad(loss_of)(w_, x, y), (w,), (v,))[1])
    current = lambda: [w.value for w in model.trainable_weights]  # noqa: E731

    def loss_and_grad(x, y):
        return grad_fn(current(), x, y)

    def hvp(x, y, vectors):
        return hvp_fn(current(), x, y, list(vectors))

    return loss_and_grad, hvp
