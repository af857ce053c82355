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


SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def _gelu_u(x):
    return math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)


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
    "silu": ("silu", lambda x: x * sigmoid(x),
             lambda x: sigmoid(x) * (1 + x * sigmoid(-x)), {}),
    "swish": ("swish", lambda x: x * sigmoid(1.5 * x),
              lambda x: sigmoid(1.5 * x) * (1 + 1.5 * x * sigmoid(-1.5 * x)),
              {"beta": 1.5}),
    "gelu": ("gelu", lambda x: x * gelu_cdf(x),
             lambda x: gelu_cdf(x) + x * np.exp(-x * x / 2) /
             math.sqrt(2 * math.pi), {}),
    # 4 sigmoid(x) - 2 = 2 tanh(x / 2): no cancellation near 0.
    "scaled_sigmoid": ("scaled_sigmoid", lambda x: 2 * np.tanh(x / 2),
                       lambda x: 4 * sigmoid(x) * sigmoid(-x), {}),
    "log_sigmoid": ("log_sigmoid", lambda x: -np.logaddexp(0, -x),
                    lambda x: sigmoid(-x), {}),
    "selu": ("selu", lambda x: SELU_SCALE * np.where(
        x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0))),
             lambda x: SELU_SCALE * np.where(
                 x > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(x, 0))), {}),
    "celu": ("celu", lambda x: np.where(
        x > 0, x, 0.5 * np.expm1(np.minimum(x, 0) / 0.5)),
             lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / 0.5)),
             {"alpha": 0.5}),
    "hardtanh": ("hardtanh", lambda x: np.clip(x, -2.0, 3.0),
                 lambda x: ((x > -2) & (x < 3)) * 1.0,
                 {"min": -2.0, "max": 3.0}),
    "relu6": ("relu6", lambda x: np.clip(x, 0.0, 6.0),
              lambda x: ((x > 0) & (x < 6)) * 1.0, {}),
    "hardsigmoid": ("hardsigmoid", lambda x: np.clip(x / 6 + 0.5, 0.0, 1.0),
                    lambda x: np.where((x > -3) & (x < 3), 1 / 6, 0.0), {}),
    "hardswish": ("hardswish", lambda x: x * np.clip(x + 3, 0.0, 6.0) / 6,
                  lambda x: np.where(x < -3, 0.0,
                                     np.where(x > 3, 1.0, (2 * x + 3) / 6)),
                  {}),
    "mish": ("mish", lambda x: x * np.tanh(softplus(x)),
             lambda x: np.tanh(softplus(x)) + x * sigmoid(x) *
             (1 - np.tanh(softplus(x)) ** 2), {}),
    # 0.5 (1 + tanh(u)) = sigmoid(2u): no cancellation for x < 0.
    "gelu_tanh": ("gelu_tanh", lambda x: x * sigmoid(2 * _gelu_u(x)),
                  lambda x: sigmoid(2 * _gelu_u(x)) + 2 * x *
                  sigmoid(2 * _gelu_u(x)) * sigmoid(-2 * _gelu_u(x)) *
                  math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * x * x), {}),
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
