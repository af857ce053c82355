"""Client: numpy arrays in, numpy arrays out, over gRPC.

Time and memory grow linearly with the array: Debian's protobuf runtime
(the C++ one) returns a fresh copy of a whole `bytes` field each time Python
reads it, so inputs are sliced from a memoryview of the caller's array,
never from a message, and each received chunk goes once, straight into one
preallocated output array. Over EvaluateStream the data messages skip the
generated classes altogether (actserve._wire).
"""

from __future__ import annotations

import json
import math
import mmap
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import grpc
import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from actserve import _wire
from actserve.v1 import actserve_pb2, actserve_pb2_grpc

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
# numpy asks for huge pages for arrays of this size and more.
_HUGE_PAGE_ARRAY_BYTES = 4 << 20

#: What evaluate() returns in backward mode: the gradient of x, and the
#: gradient of each learnable parameter by name.
BackwardResult = Tuple[np.ndarray, Dict[str, np.ndarray]]


class ActservError(Exception):
    """A failed call: `code` is the grpc.StatusCode, `details` the message."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class _WireArray:
    """An array laid out as the wire wants it (C order, little-endian), with
    a byte view that slices without copying."""

    def __init__(self, array: npt.ArrayLike, bfloat16: bool) -> None:
        array = np.asarray(array)
        if bfloat16:
            if array.dtype.kind != "u" or array.dtype.itemsize != 2:
                raise TypeError(
                    "bfloat16=True needs uint16 arrays of bfloat16 bit "
                    f"patterns, got {array.dtype}")
            self.dtype = actserve_pb2.DTYPE_BFLOAT16
        else:
            dtype = _DTYPES.get(array.dtype.newbyteorder("="))
            if dtype is None:
                raise TypeError(
                    f"unsupported dtype {array.dtype}: use float16, float32, "
                    "float64, or uint16 with bfloat16=True")
            self.dtype = dtype
        # Not ascontiguousarray: it turns 0-d arrays into 1-d ones. A copy
        # only when the caller's array is strided or big-endian.
        self.array = np.asarray(array, dtype=array.dtype.newbyteorder("<"),
                                order="C")
        self.itemsize = self.array.itemsize
        # Through a flat uint8 view: memoryview cannot cast empty arrays.
        self.bytes = memoryview(self.array.reshape(-1).view(np.uint8))

    @property
    def shape(self) -> Tuple[int, ...]:
        return self.array.shape

    @property
    def size(self) -> int:
        return self.array.size

    def elements(self, begin: int, end: int) -> bytes:
        """Elements [begin, end) as bytes: the one copy protobuf needs."""
        return self.bytes[begin * self.itemsize:end * self.itemsize].tobytes()

    def tensor(self) -> actserve_pb2.Tensor:
        return actserve_pb2.Tensor(shape=self.shape, dtype=self.dtype,
                                   data=self.elements(0, self.size))


def _spec(name: str, params: Dict[str, Any]) -> actserve_pb2.ActivationSpec:
    spec = actserve_pb2.ActivationSpec(name=name)
    for key, value in params.items():
        if key in _REAL_PARAMS:
            setattr(spec, key, float(value))
        elif key in _INT_PARAMS:
            setattr(spec, key, int(value))
        elif key == "channel_alpha":
            spec.channel_alpha.CopyFrom(
                _WireArray(np.asarray(value, dtype=np.float64),
                           False).tensor())
        else:
            raise TypeError(f"unknown activation parameter {key!r}")
    return spec


def _empty(shape: Tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialized array. Large ones come from an anonymous mapping
    rather than np.empty, which asks the kernel for transparent huge pages
    for them: where it compacts memory to find some (transparent_hugepage/
    defrag = madvise, the default), a 256 MiB result took a second longer.
    The mapping goes when the array does."""
    count = math.prod(shape)
    if count * dtype.itemsize < _HUGE_PAGE_ARRAY_BYTES:
        return np.empty(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, count * dtype.itemsize), dtype=dtype,
                         count=count).reshape(shape)


class _Output:
    """Rebuilds one output array from its chunks, in place."""

    def __init__(self) -> None:
        self.array: Optional[np.ndarray] = None
        self.bytes: Optional[memoryview] = None
        self.filled = 0

    def add(self, input_index: int, element_offset: int,
            header: Optional[actserve_pb2.TensorHeader],
            data: Union[bytes, memoryview]) -> None:
        """One OutputChunk's fields; `data` is copied once, into place."""
        if input_index != 0:
            raise ActservError(
                grpc.StatusCode.INTERNAL,
                "the server answered for a tensor that was not sent")
        if header is not None:
            if self.array is not None:
                raise ActservError(grpc.StatusCode.INTERNAL,
                                   "the server sent a second output header")
            dtype = _NUMPY_TYPES.get(header.dtype)
            if dtype is None:
                raise ActservError(grpc.StatusCode.INTERNAL,
                                   "the server sent an unknown dtype")
            self.array = _empty(tuple(header.shape), dtype)
            self.bytes = memoryview(self.array.reshape(-1).view(np.uint8))
        elif self.bytes is None:
            raise ActservError(grpc.StatusCode.INTERNAL,
                               "the server sent data before its header")
        start = element_offset * self.array.itemsize
        if (start < 0 or start + len(data) > len(self.bytes)
                or len(data) % self.array.itemsize):
            raise ActservError(grpc.StatusCode.INTERNAL,
                               "the server sent a chunk out of bounds")
        self.bytes[start:start + len(data)] = data
        self.filled += len(data)

    def add_message(self, chunk: actserve_pb2.OutputChunk) -> None:
        self.add(chunk.input_index, chunk.element_offset,
                 chunk.header if chunk.HasField("header") else None,
                 chunk.data)  # a copy of the field: read once

    def result(self) -> np.ndarray:
        if self.array is None or self.filled != len(self.bytes):
            raise ActservError(grpc.StatusCode.INTERNAL,
                               "the server's output is incomplete")
        return self.array


def _param_grads(gradients: Iterable[actserve_pb2.ParameterGradient]
                 ) -> Dict[str, np.ndarray]:
    return {g.name: np.frombuffer(g.gradient.data,
                                  dtype=_NUMPY_TYPES[g.gradient.dtype])
            .reshape(tuple(g.gradient.shape)).copy()
            for g in gradients}


def _several_backends(target: str) -> bool:
    """Whether `target` names several servers: a dns: name (which may resolve
    to many addresses) or an ipv4:/ipv6: list with commas."""
    return target.startswith("dns:") or (
        target.startswith(("ipv4:", "ipv6:")) and "," in target)


def _service_config(target: str) -> Dict[str, Any]:
    """round_robin over several servers, and retries on UNAVAILABLE (what a
    server that is restarting, or gone, answers); the same config as the
    CLI's (client/channel.cc). Retrying is safe: every method is a pure
    function of its request."""
    return {
        "loadBalancingConfig": [
            {"round_robin" if _several_backends(target) else "pick_first": {}}
        ],
        "methodConfig": [{
            "name": [{"service": "actserve.v1.ActivationService"},
                     {"service": "grpc.health.v1.Health"}],
            "retryPolicy": {
                "maxAttempts": 4, "initialBackoff": "0.1s",
                "maxBackoff": "2s", "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"]},
        }],
    }


# grpc.health.v1.Health/Check without generated code: Debian ships no
# Python health stubs, and stubs generated here would register the
# grpc.health.v1 messages in protobuf's default pool, where they clash with
# grpcio-health-checking's for anyone who has both. Each message has one
# field, so they are encoded by hand.
_HEALTH_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING",
                  3: "SERVICE_UNKNOWN"}


def _health_request(service: str) -> bytes:
    """HealthCheckRequest{service}: field 1, length-delimited."""
    name = service.encode()
    return b"\x0a" + _wire.encode_varint(len(name)) + name if name else b""


def _health_status(response: bytes) -> str:
    """The ServingStatus name in a HealthCheckResponse: field 1, a varint
    (the only field; at most 4, so one byte)."""
    if response[:1] == b"\x08" and len(response) == 2:
        return _HEALTH_STATUS.get(response[1], f"status {response[1]}")
    if not response:
        return _HEALTH_STATUS[0]
    raise ActservError(grpc.StatusCode.INTERNAL,
                       f"unexpected health response {response[:16]!r}")


class Client:
    """A connection to an actserve server, or several.

    target: any gRPC target ("host:port", "unix:/path", "dns:///host:port",
        "ipv4:10.0.0.1:50051,10.0.0.2:50051"); calls are spread round-robin
        over the addresses of a dns: or multi-address target.
    credentials: grpc.ssl_channel_credentials(...) for TLS; None: plaintext.
    timeout: seconds allowed for each call.
    max_message_bytes: largest message sent or received.
    chunk_bytes: bytes per streamed request message and per response chunk.
    options: more gRPC channel arguments, e.g.
        [("grpc.ssl_target_name_override", "name")].

    Use it as a context manager, or call close(). Arrays above about 4 MiB
    go over the EvaluateStream RPC by themselves; the threshold is the
    attribute stream_threshold_bytes.
    """

    def __init__(self, target: str = "127.0.0.1:50051", *,
                 credentials: Optional[grpc.ChannelCredentials] = None,
                 timeout: float = 60.0, max_message_bytes: int = 64 << 20,
                 chunk_bytes: int = 1 << 20,
                 options: Iterable[Tuple[str, Any]] = ()) -> None:
        channel_options = [
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.service_config", json.dumps(_service_config(target))),
            *options,
        ]
        if credentials is None:
            self._channel = grpc.insecure_channel(target,
                                                  options=channel_options)
        else:
            self._channel = grpc.secure_channel(target, credentials,
                                                options=channel_options)
        self._stub = actserve_pb2_grpc.ActivationServiceStub(self._channel)
        # Bytes in, bytes out: actserve._wire encodes the data messages.
        self._evaluate_stream_call = self._channel.stream_stream(
            "/actserve.v1.ActivationService/EvaluateStream")
        self._health_check = self._channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=_health_request,
            response_deserializer=_health_status)
        self.timeout = timeout
        self.chunk_bytes = chunk_bytes
        # Requests whose tensors are larger go over EvaluateStream.
        self.stream_threshold_bytes = (
            min(max_message_bytes, _DEFAULT_UNARY_LIMIT) - _MARGIN)

    def close(self) -> None:
        """Closes the channel; calls in flight fail with CANCELLED."""
        self._channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def list_activations(self) -> List[actserve_pb2.ActivationInfo]:
        """The catalog: a list of actserve.v1.ActivationInfo messages
        (name, kind, parameters with defaults, modes, formula, accuracy)."""
        try:
            response = self._stub.ListActivations(
                actserve_pb2.ListActivationsRequest(), timeout=self.timeout)
        except grpc.RpcError as error:
            raise ActservError(error.code(), error.details()) from None
        return list(response.activations)

    def health(self, service: str = "") -> str:
        """grpc.health.v1 Check: "SERVING", "NOT_SERVING", ... for `service`,
        or for the server as a whole when empty."""
        try:
            return self._health_check(service, timeout=self.timeout)
        except grpc.RpcError as error:
            raise ActservError(error.code(), error.details()) from None

    def evaluate(self, name: str, x: npt.ArrayLike, mode: str = "forward",
                 grad_output: Optional[npt.ArrayLike] = None, *,
                 bfloat16: bool = False, **params: Any
                 ) -> Union[np.ndarray, BackwardResult]:
        """Evaluates activation `name` on the array `x`.

        x: float16, float32 or float64, any shape, any layout.
        mode: "forward" (f(x)), "derivative" (f'(x); softmax: Jacobians) or
          "backward" (needs grad_output, shaped like the forward output).
        bfloat16: x and grad_output are uint16 arrays of bfloat16 bits; the
          result is returned the same way.
        params: alpha, beta, min, max, threshold, axis, pieces,
          channel_alpha (array of slopes); unset ones take the server's
          defaults (see list_activations()).

        Returns the output array, of x's dtype; in backward mode a tuple
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
        x = _WireArray(x, bfloat16)
        grad = _WireArray(grad_output, bfloat16) if backward else None
        size = len(x.bytes) + (len(grad.bytes) if grad is not None else 0)
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
            activation=spec, mode=mode, inputs=[x.tensor()],
            grad_outputs=[grad.tensor()] if grad is not None else [],
            chunk_bytes=self.chunk_bytes)
        output = _Output()
        gradients = []
        for response in self._stub.Evaluate(request, timeout=self.timeout):
            kind = response.WhichOneof("payload")
            if kind == "chunk":
                output.add_message(response.chunk)
            elif kind == "parameter_gradients":
                gradients.extend(response.parameter_gradients.gradients)
        return output.result(), gradients

    def _stream_requests(self, spec, mode, x: _WireArray,
                         grad: Optional[_WireArray]) -> Iterator[bytes]:
        """Serialized EvaluateStreamRequests: the header, then the data,
        sliced from the arrays' byte views (see actserve._wire)."""
        yield actserve_pb2.EvaluateStreamRequest(
            header=actserve_pb2.StreamHeader(
                activation=spec, mode=mode, shape=x.shape, dtype=x.dtype,
                chunk_bytes=self.chunk_bytes)).SerializeToString()
        item = x.itemsize
        x_count = x.size
        g_count = grad.size if grad is not None else 0
        step = max(1, self.chunk_bytes // item)
        # grad_output is split at the same fraction as x, so the server can
        # compute each piece as soon as it arrives. An empty x still needs
        # one data message.
        begin = 0
        while True:
            end = min(x_count, begin + step)
            x_bytes = x.bytes[begin * item:end * item]
            if grad is None:
                yield _wire.stream_data_request(begin, x_bytes)
            else:
                g_begin = g_count * begin // x_count if x_count else 0
                g_end = g_count * end // x_count if x_count else g_count
                yield _wire.stream_data_request(
                    begin, x_bytes, g_begin,
                    grad.bytes[g_begin * item:g_end * item])
            begin = end
            if begin >= x_count:
                return

    def _evaluate_stream(self, spec, mode, x, grad):
        responses = self._evaluate_stream_call(
            self._stream_requests(spec, mode, x, grad), timeout=self.timeout)
        output = _Output()
        gradients = []
        try:
            for raw in responses:
                chunk = _wire.output_chunk(raw)
                if chunk is not None:
                    header = (None if chunk.header is None else
                              actserve_pb2.TensorHeader.FromString(
                                  chunk.header.tobytes()))
                    output.add(chunk.input_index, chunk.element_offset,
                               header, chunk.data)
                    continue
                response = actserve_pb2.EvaluateStreamResponse.FromString(raw)
                kind = response.WhichOneof("payload")
                if kind == "chunk":
                    output.add_message(response.chunk)
                elif kind == "done":
                    gradients.extend(response.done.parameter_gradients)
        except (ActservError, _wire.WireError, DecodeError) as error:
            responses.cancel()
            if isinstance(error, ActservError):
                raise
            raise ActservError(grpc.StatusCode.INTERNAL,
                               f"the server sent a malformed message: "
                               f"{error}") from None
        return output.result(), gradients
