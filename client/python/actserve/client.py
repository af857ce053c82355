"""Client: numpy arrays in, numpy arrays out, over gRPC."""

import json

import grpc
import numpy as np

try:
    from actserve.v1 import actserve_pb2, actserve_pb2_grpc
except ImportError as error:  # pragma: no cover - depends on the build
    raise ImportError(
        "actserve's gRPC stubs are missing: build the CMake target "
        "actserve_python_stubs, or run the protoc command in "
        "client/README.md") from error

_DTYPES = {
    np.dtype(np.float16): actserve_pb2.DTYPE_FLOAT16,
    np.dtype(np.float32): actserve_pb2.DTYPE_FLOAT32,
    np.dtype(np.float64): actserve_pb2.DTYPE_FLOAT64,
}
_NUMPY_TYPES = {
    actserve_pb2.DTYPE_FLOAT16: np.dtype("<f2"),
    actserve_pb2.DTYPE_FLOAT32: np.dtype("<f4"),
    actserve_pb2.DTYPE_FLOAT64: np.dtype("<f8"),
    # bfloat16 comes back as its bit patterns.
    actserve_pb2.DTYPE_BFLOAT16: np.dtype("<u2"),
}
_MODES = {
    "forward": actserve_pb2.MODE_FORWARD,
    "derivative": actserve_pb2.MODE_DERIVATIVE,
    "backward": actserve_pb2.MODE_BACKWARD,
}
_REAL_PARAMS = ("alpha", "beta", "min", "max", "threshold")
_INT_PARAMS = ("axis", "pieces")

# Servers accept 4 MiB messages unless configured otherwise; requests above
# this go over EvaluateStream. The margin covers the message's other fields.
_DEFAULT_UNARY_LIMIT = 4 << 20
_MARGIN = 64 << 10


class ActservError(Exception):
    """A failed call: `code` is the grpc.StatusCode, `details` the message."""

    def __init__(self, code, details):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def _tensor(array, bfloat16):
    """A little-endian C-order Tensor message from `array`."""
    array = np.asarray(array)
    if bfloat16:
        if array.dtype.kind != "u" or array.dtype.itemsize != 2:
            raise TypeError(
                "bfloat16=True needs uint16 arrays of bfloat16 bit patterns, "
                f"got {array.dtype}")
        dtype = actserve_pb2.DTYPE_BFLOAT16
    else:
        dtype = _DTYPES.get(array.dtype.newbyteorder("="))
        if dtype is None:
            raise TypeError(
                f"unsupported dtype {array.dtype}: use float16, float32, "
                "float64, or uint16 with bfloat16=True")
    # Not ascontiguousarray: it turns 0-d arrays into 1-d ones.
    array = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
    return actserve_pb2.Tensor(shape=array.shape, dtype=dtype,
                               data=array.tobytes())


def _spec(name, params):
    spec = actserve_pb2.ActivationSpec(name=name)
    for key, value in params.items():
        if key in _REAL_PARAMS:
            setattr(spec, key, float(value))
        elif key in _INT_PARAMS:
            setattr(spec, key, int(value))
        elif key == "channel_alpha":
            spec.channel_alpha.CopyFrom(
                _tensor(np.asarray(value, dtype=np.float64), False))
        else:
            raise TypeError(f"unknown activation parameter {key!r}")
    return spec


class _Output:
    """Rebuilds one output array from its chunks."""

    def __init__(self):
        self.array = None
        self.filled = 0

    def add(self, chunk):
        if chunk.HasField("header"):
            if self.array is not None:
                raise ActservError(grpc.StatusCode.INTERNAL,
                                   "the server sent a second output header")
            dtype = _NUMPY_TYPES[chunk.header.dtype]
            self.array = np.empty(tuple(chunk.header.shape), dtype=dtype)
        elif self.array is None:
            raise ActservError(grpc.StatusCode.INTERNAL,
                               "the server sent data before its header")
        flat = self.array.reshape(-1)
        # frombuffer reads the received bytes in place; the slice assignment
        # copies them into the aligned output.
        values = np.frombuffer(chunk.data, dtype=flat.dtype)
        start = chunk.element_offset
        if start < 0 or start + values.size > flat.size:
            raise ActservError(grpc.StatusCode.INTERNAL,
                               "the server sent a chunk out of bounds")
        flat[start:start + values.size] = values
        self.filled += values.size

    def result(self):
        if self.array is None or self.filled != self.array.size:
            raise ActservError(grpc.StatusCode.INTERNAL,
                               "the server's output is incomplete")
        return self.array


def _collect(responses, gradients_payload, gradients_of):
    """(output array, ParameterGradient list) from either RPC's responses;
    `gradients_payload` names the payload that carries the gradients."""
    output = _Output()
    gradients = []
    for response in responses:
        kind = response.WhichOneof("payload")
        if kind == "chunk":
            output.add(response.chunk)
        elif kind == gradients_payload:
            gradients.extend(gradients_of(getattr(response, kind)))
    return output.result(), gradients


def _param_grads(gradients):
    return {g.name: np.frombuffer(g.gradient.data,
                                  dtype=_NUMPY_TYPES[g.gradient.dtype])
            .reshape(tuple(g.gradient.shape)).copy()
            for g in gradients}


def _several_backends(target):
    """Whether `target` names several servers: a dns: name (which may resolve
    to many addresses) or an ipv4:/ipv6: list with commas."""
    return target.startswith("dns:") or (
        target.startswith(("ipv4:", "ipv6:")) and "," in target)


def _service_config(target):
    """round_robin over several servers, and retries on UNAVAILABLE (what a
    server that is restarting, or gone, answers); the same config as the
    CLI's (client/channel.cc). Retrying is safe: every method is a pure
    function of its request."""
    return {
        "loadBalancingConfig": [
            {"round_robin" if _several_backends(target) else "pick_first": {}}
        ],
        "methodConfig": [{
            "name": [{"service": "actserve.v1.ActivationService"}],
            "retryPolicy": {
                "maxAttempts": 4, "initialBackoff": "0.1s",
                "maxBackoff": "2s", "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"]},
        }],
    }


class Client:
    """A connection to an actserve server, or several.

    target: any gRPC target ("host:port", "unix:/path", "dns:///host:port",
        "ipv4:10.0.0.1:50051,10.0.0.2:50051"); calls are spread round-robin
        over the addresses of a dns: or multi-address target.
    credentials: grpc.ssl_channel_credentials(...) for TLS; None: plaintext.
    timeout: seconds allowed for each call.
    max_message_bytes: largest message sent or received.
    chunk_bytes: bytes per streamed request message and per response chunk.
    """

    def __init__(self, target="127.0.0.1:50051", *, credentials=None,
                 timeout=60.0, max_message_bytes=64 << 20,
                 chunk_bytes=1 << 20):
        options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.service_config", json.dumps(_service_config(target))),
        ]
        if credentials is None:
            self._channel = grpc.insecure_channel(target, options=options)
        else:
            self._channel = grpc.secure_channel(target, credentials,
                                                options=options)
        self._stub = actserve_pb2_grpc.ActivationServiceStub(self._channel)
        self.timeout = timeout
        self.chunk_bytes = chunk_bytes
        # Requests whose tensors are larger go over EvaluateStream.
        self.stream_threshold_bytes = (
            min(max_message_bytes, _DEFAULT_UNARY_LIMIT) - _MARGIN)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def list_activations(self):
        """The catalog: a list of actserve.v1.ActivationInfo messages."""
        try:
            response = self._stub.ListActivations(
                actserve_pb2.ListActivationsRequest(), timeout=self.timeout)
        except grpc.RpcError as error:
            raise ActservError(error.code(), error.details()) from None
        return list(response.activations)

    def evaluate(self, name, x, mode="forward", grad_output=None, *,
                 bfloat16=False, **params):
        """Evaluates activation `name` on the array `x`.

        mode: "forward" (f(x)), "derivative" (f'(x); softmax: Jacobians) or
          "backward" (needs grad_output, shaped like the forward output).
        bfloat16: x and grad_output are uint16 arrays of bfloat16 bits; the
          result is returned the same way.
        params: alpha, beta, min, max, threshold, axis, pieces,
          channel_alpha (array of slopes).

        Returns the output array; in backward mode a tuple
        (grad_input, {parameter name: gradient array}).
        Raises ActservError on a failed call, TypeError or ValueError on
        arguments that cannot be sent.
        """
        if mode not in _MODES:
            raise ValueError(
                f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
        backward = mode == "backward"
        if backward != (grad_output is not None):
            raise ValueError(
                "grad_output is required in backward mode and only there")
        spec = _spec(name, params)
        x = _tensor(x, bfloat16)
        grad = _tensor(grad_output, bfloat16) if backward else None
        size = len(x.data) + (len(grad.data) if grad is not None else 0)
        try:
            if size > self.stream_threshold_bytes:
                output, gradients = self._evaluate_stream(spec, _MODES[mode],
                                                          x, grad)
            else:
                output, gradients = self._evaluate_unary(spec, _MODES[mode],
                                                         x, grad)
        except grpc.RpcError as error:
            raise ActservError(error.code(), error.details()) from None
        if backward:
            return output, _param_grads(gradients)
        return output

    def _evaluate_unary(self, spec, mode, x, grad):
        request = actserve_pb2.EvaluateRequest(
            activation=spec, mode=mode, inputs=[x],
            grad_outputs=[grad] if grad is not None else [],
            chunk_bytes=self.chunk_bytes)
        return _collect(self._stub.Evaluate(request, timeout=self.timeout),
                        "parameter_gradients", lambda p: p.gradients)

    def _stream_requests(self, spec, mode, x, grad):
        yield actserve_pb2.EvaluateStreamRequest(
            header=actserve_pb2.StreamHeader(
                activation=spec, mode=mode, shape=x.shape, dtype=x.dtype,
                chunk_bytes=self.chunk_bytes))
        item = _NUMPY_TYPES[x.dtype].itemsize
        x_count = len(x.data) // item
        g_count = len(grad.data) // item if grad is not None else 0
        step = max(1, self.chunk_bytes // item)
        # grad_output is split at the same fraction as x, so the server can
        # compute each piece as soon as it arrives. An empty x still needs
        # one data message.
        begin = 0
        while True:
            end = min(x_count, begin + step)
            data = actserve_pb2.StreamData(
                x_offset=begin, x=x.data[begin * item:end * item])
            if grad is not None:
                g_begin = g_count * begin // x_count if x_count else 0
                g_end = g_count * end // x_count if x_count else g_count
                data.grad_offset = g_begin
                data.grad_output = grad.data[g_begin * item:g_end * item]
            yield actserve_pb2.EvaluateStreamRequest(data=data)
            begin = end
            if begin >= x_count:
                return

    def _evaluate_stream(self, spec, mode, x, grad):
        responses = self._stub.EvaluateStream(
            self._stream_requests(spec, mode, x, grad), timeout=self.timeout)
        return _collect(responses, "done", lambda p: p.parameter_gradients)
