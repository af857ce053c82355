"""The Python client against the real server, checked with numpy."""

import time

import grpc
import numpy as np
import pytest

import references
from actserve import ActservError, Client

# Tolerances per dtype, from the catalog's accuracy (a few ULP) with room for
# the reference's own rounding; the absolute part covers values near roots,
# where relative error means nothing.
TOLERANCE = {
    np.float64: dict(rtol=1e-12, atol=1e-15),
    np.float32: dict(rtol=2e-6, atol=1e-7),
    np.float16: dict(rtol=2e-3, atol=1e-4),
}


def sample(n=2000, seed=0):
    """Values over [-10, 10] and the tails, kept off the kinks at 0 where
    one-sided derivatives differ by convention."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-10, 10, n), [-40.0, -12.5, 12.5, 40.0]])
    return x[np.abs(x) > 1e-3]


def require(catalog, name):
    assert name in catalog, f"the server lists no {name}"


def test_catalog_describes_every_activation(catalog):
    assert "relu" in catalog
    for name, info in catalog.items():
        assert info.name == name
        assert info.formula
        assert info.kind != 0
        assert list(info.modes), name


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("mode", ["forward", "derivative", "backward"])
@pytest.mark.parametrize("case", sorted(references.ELEMENTWISE))
def test_elementwise_matches_reference(client, catalog, case, mode, dtype):
    name, forward, derivative, params = references.ELEMENTWISE[case]
    require(catalog, name)
    x = sample().astype(dtype)
    x64 = x.astype(np.float64)
    if mode == "forward":
        got = client.evaluate(name, x, **params)
        want = forward(x64)
    elif mode == "derivative":
        got = client.evaluate(name, x, mode="derivative", **params)
        want = derivative(x64)
    else:
        g = np.random.default_rng(1).uniform(-2, 2, x.shape).astype(dtype)
        got, _ = client.evaluate(name, x, mode="backward", grad_output=g,
                                 **params)
        want = g.astype(np.float64) * derivative(x64)
    assert got.dtype == dtype and got.shape == x.shape
    with np.errstate(over="ignore"):
        want = want.astype(dtype).astype(np.float64)  # the best dtype can do
    np.testing.assert_allclose(got.astype(np.float64), want,
                               **TOLERANCE[dtype])


def test_shapes_survive_and_non_contiguous_or_big_endian_inputs_work(client):
    x = np.arange(-12.0, 12.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(client.evaluate("relu", x),
                                  np.maximum(x, 0))
    strided = x[:, :, ::2]
    np.testing.assert_array_equal(client.evaluate("relu", strided),
                                  np.maximum(strided, 0))
    big_endian = x.astype(">f4")
    got = client.evaluate("relu", big_endian)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.maximum(x, 0))
    scalar = client.evaluate("relu", np.float64(-3.0))
    assert scalar.shape == () and scalar == 0


def test_empty_array(client):
    got = client.evaluate("sigmoid", np.zeros((0, 5), np.float32))
    assert got.shape == (0, 5)


def test_bfloat16_travels_as_uint16_bits(client):
    x = np.array([-3.0, -0.5, 0.25, 1.0, 2.5, 100.0], np.float32)
    bits = (x.view(np.uint32) >> 16).astype(np.uint16)  # exact in bfloat16
    got = client.evaluate("relu", bits, bfloat16=True)
    assert got.dtype == np.uint16
    widened = (got.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(widened, np.maximum(x, 0))
    sig = (client.evaluate("sigmoid", bits, bfloat16=True).astype(np.uint32)
           << 16).view(np.float32)
    np.testing.assert_allclose(sig, references.sigmoid(x.astype(np.float64)),
                               rtol=2 ** -8)


def test_softmax_forward_derivative_backward(client, catalog):
    require(catalog, "softmax")
    rng = np.random.default_rng(2)
    x = rng.uniform(-30, 30, (7, 5))
    g = rng.uniform(-1, 1, (7, 5))
    np.testing.assert_allclose(client.evaluate("softmax", x),
                               references.softmax(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(client.evaluate("softmax", x,
                                               mode="derivative"),
                               references.softmax_jacobian(x),
                               rtol=1e-11, atol=1e-15)
    gx, params = client.evaluate("softmax", x, mode="backward",
                                 grad_output=g)
    assert params == {}
    np.testing.assert_allclose(gx, references.softmax_backward(x, g),
                               rtol=1e-10, atol=1e-15)
    # Along another axis: the same as moving that axis last.
    xt = np.ascontiguousarray(x.T)
    np.testing.assert_allclose(client.evaluate("softmax", xt, axis=0),
                               references.softmax(x).T, rtol=1e-12,
                               atol=1e-300)


def test_swish_backward_returns_the_beta_gradient(client, catalog):
    require(catalog, "swish")
    x = sample(300)
    g = np.random.default_rng(3).uniform(-1, 1, x.shape)
    gx, params = client.evaluate("swish", x, mode="backward", grad_output=g,
                                 beta=1.5)
    assert set(params) == {"beta"} and params["beta"].shape == ()
    np.testing.assert_allclose(params["beta"],
                               references.swish_beta_grad(x, g, 1.5),
                               rtol=1e-10)
    _, _, derivative, _ = references.ELEMENTWISE["swish"]
    np.testing.assert_allclose(gx, g * derivative(x), rtol=1e-12, atol=1e-15)


def test_big_arrays_stream(server):
    # A client whose messages may not exceed 4 MiB: a 12 MB array can only
    # succeed over EvaluateStream.
    x = np.random.default_rng(4).uniform(-8, 8, (3, 1000, 1000))
    x = x.astype(np.float32)
    with Client(server, max_message_bytes=4 << 20) as small:
        got = small.evaluate("sigmoid", x)
        small.stream_threshold_bytes = float("inf")  # force Evaluate
        with pytest.raises(ActservError) as error:
            small.evaluate("sigmoid", x)
        assert error.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    np.testing.assert_allclose(got, references.sigmoid(x.astype(np.float64)),
                               **TOLERANCE[np.float32])


def test_streaming_and_unary_agree_in_backward_mode(server):
    rng = np.random.default_rng(5)
    x = rng.uniform(-6, 6, (64, 333))
    g = rng.uniform(-1, 1, x.shape)
    with Client(server, chunk_bytes=4096) as c:
        unary, _ = c.evaluate("sigmoid", x, mode="backward", grad_output=g)
        c.stream_threshold_bytes = -1  # everything over EvaluateStream
        streamed, _ = c.evaluate("sigmoid", x, mode="backward",
                                 grad_output=g)
    np.testing.assert_array_equal(unary, streamed)
    np.testing.assert_allclose(
        unary, g * references.sigmoid(x) * references.sigmoid(-x),
        rtol=1e-12, atol=1e-15)


def test_server_errors_carry_code_and_message(client):
    with pytest.raises(ActservError) as error:
        client.evaluate("no_such_function", np.ones(3))
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "no_such_function" in error.value.details
    with pytest.raises(ActservError) as error:
        client.evaluate("relu", np.ones(3), alpha=0.5)
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "alpha" in error.value.details
    with pytest.raises(ActservError) as error:
        client.evaluate("relu", np.ones(3), mode="backward",
                        grad_output=np.ones(4))
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_deadline_exceeded(server):
    with Client(server, timeout=1e-6) as hasty:
        with pytest.raises(ActservError) as error:
            hasty.evaluate("relu", np.ones(1 << 20))
    assert error.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_arguments_checked_before_any_call(client):
    with pytest.raises(TypeError, match="int32"):
        client.evaluate("relu", np.ones(3, np.int32))
    with pytest.raises(TypeError, match="uint16"):
        client.evaluate("relu", np.ones(3, np.float32), bfloat16=True)
    with pytest.raises(ValueError, match="grad_output"):
        client.evaluate("relu", np.ones(3), mode="backward")
    with pytest.raises(ValueError, match="mode"):
        client.evaluate("relu", np.ones(3), mode="sideways")
    with pytest.raises(TypeError, match="gamma"):
        client.evaluate("relu", np.ones(3), gamma=1)


def test_unreachable_server_is_unavailable(tmp_path):
    with Client(f"unix:{tmp_path}/nobody.sock", timeout=5) as c:
        with pytest.raises(ActservError) as error:
            c.list_activations()
    assert error.value.code == grpc.StatusCode.UNAVAILABLE


def test_prelu_per_channel_slopes_and_their_gradient(client, catalog):
    require(catalog, "prelu")
    rng = np.random.default_rng(6)
    x = sample(4 * 3 * 5, seed=7)[:60].reshape(4, 3, 5)  # channels on axis 1
    g = rng.uniform(-1, 1, x.shape)
    slopes = np.array([0.1, 0.25, -0.5])
    a = slopes.reshape(1, 3, 1)
    np.testing.assert_allclose(
        client.evaluate("prelu", x, channel_alpha=slopes),
        np.where(x > 0, x, a * x), rtol=1e-15)
    gx, params = client.evaluate("prelu", x, mode="backward", grad_output=g,
                                 channel_alpha=slopes)
    np.testing.assert_allclose(gx, g * np.where(x > 0, 1, a), rtol=1e-15)
    assert set(params) == {"alpha"} and params["alpha"].shape == (3,)
    np.testing.assert_allclose(
        params["alpha"], np.sum(np.where(x > 0, 0, g * x), axis=(0, 2)),
        rtol=1e-12)


def test_time_grows_linearly_with_the_array(client):
    # A quadratic client (one that re-copies the whole array per chunk)
    # takes 16x as long for 4x the data; a linear one about 4x. Each size is
    # timed three times, interleaved, and the fastest kept: noise only adds.
    arrays = [np.linspace(-6, 6, n, dtype=np.float32)
              for n in (4 << 20, 16 << 20)]  # 16 MiB, 64 MiB
    best = [float("inf")] * 2
    for _ in range(3):
        for i, x in enumerate(arrays):
            start = time.perf_counter()
            y = client.evaluate("sigmoid", x)
            best[i] = min(best[i], time.perf_counter() - start)
            assert y.shape == x.shape
    assert best[1] <= 6 * best[0], (
        f"64 MiB took {best[1]:.3f} s, 16 MiB {best[0]:.3f} s")


def test_health(client):
    assert client.health() == "SERVING"
    with pytest.raises(ActservError) as error:
        client.health("no.such.Service")
    assert error.value.code == grpc.StatusCode.NOT_FOUND
