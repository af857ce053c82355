"""The seed formulas in float64, written to stay accurate over the whole
range (no overflow in exp, no cancellation near zero)."""

import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softplus(x, beta=1.0, threshold=20.0):
    bx = beta * x
    return np.where(bx > threshold, x, np.logaddexp(0, bx) / beta)


def gelu_cdf(x):
    return 0.5 * (1 + _erf(x / math.sqrt(2)))


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# case -> (activation, forward, derivative, parameters); the functions take
# and return float64 arrays.
ELEMENTWISE = {
    "identity": ("identity", lambda x: x, lambda x: np.ones_like(x), {}),
    "sigmoid": ("sigmoid", sigmoid, lambda x: sigmoid(x) * sigmoid(-x), {}),
    "tanh": ("tanh", np.tanh, lambda x: 1 / np.cosh(x) ** 2, {}),
    "relu": ("relu", lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, {}),
    "leaky_relu": ("leaky_relu", lambda x: np.where(x > 0, x, 0.2 * x),
                   lambda x: np.where(x > 0, 1.0, 0.2), {"alpha": 0.2}),
    "elu": ("elu", lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
            lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(x)), {"alpha": 0.7}),
    "softplus": ("softplus", lambda x: softplus(x, 2.0),
                 lambda x: np.where(2 * x > 20, 1.0, sigmoid(2 * x)),
                 {"beta": 2.0}),
    "softsign": ("softsign", lambda x: x / (1 + np.abs(x)),
                 lambda x: 1 / (1 + np.abs(x)) ** 2, {}),
    # swish at its default beta = 1 is SiLU.
    "silu": ("swish", lambda x: x * sigmoid(x),
             lambda x: sigmoid(x) * (1 + x * sigmoid(-x)), {}),
    "swish": ("swish", lambda x: x * sigmoid(1.5 * x),
              lambda x: sigmoid(1.5 * x) * (1 + 1.5 * x * sigmoid(-1.5 * x)),
              {"beta": 1.5}),
    "gelu": ("gelu", lambda x: x * gelu_cdf(x),
             lambda x: gelu_cdf(x) + x * np.exp(-x * x / 2) /
             math.sqrt(2 * math.pi), {}),
}


def softmax(x):
    return _softmax(x)


def softmax_jacobian(x):
    s = _softmax(x)
    return (np.einsum("...i,ij->...ij", s, np.eye(x.shape[-1])) -
            np.einsum("...i,...j->...ij", s, s))


def softmax_backward(x, g):
    s = _softmax(x)
    return s * (g - (g * s).sum(axis=-1, keepdims=True))


def swish_beta_grad(x, g, beta):
    """d/dbeta of sum(g * x * sigmoid(beta x)) = sum(g x^2 s (1 - s))."""
    s = sigmoid(beta * x)
    return np.sum(g * x * x * s * (1 - s))
