#!/usr/bin/python3
"""Writes the fuzzers' seed corpora (tests/fuzz/corpus/<fuzzer>/): one valid
input of each kind a client sends, small, so that the fuzzers start from every
activation, mode, dtype and message order. Rerun after a proto change:
  protoc --proto_path=proto --python_out=/tmp/pb proto/actserve/v1/actserve.proto
  PYTHONPATH=/tmp/pb /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import io
import os
import struct

import numpy as np
from actserve.v1 import actserve_pb2 as pb

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
RNG = np.random.default_rng(10)

ACTIVATIONS = [
    "celu", "elu", "gelu", "gelu_tanh", "hardsigmoid", "hardswish", "hardtanh",
    "identity", "leaky_relu", "log_sigmoid", "log_softmax", "maxout", "mish",
    "prelu", "relu", "relu6", "scaled_sigmoid", "selu", "sigmoid", "silu",
    "softmax", "softplus", "softsign", "swish", "tanh",
]
DTYPES = {pb.DTYPE_FLOAT32: np.float32, pb.DTYPE_FLOAT64: np.float64,
          pb.DTYPE_FLOAT16: np.float16, pb.DTYPE_BFLOAT16: np.uint16}


def data(dtype, count):
    values = (RNG.standard_normal(count) * 4).astype(np.float32)
    if dtype == pb.DTYPE_BFLOAT16:  # the top half of each float32
        return (values.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    return values.astype(DTYPES[dtype]).tobytes()


def spec(name, channels=2):
    s = pb.ActivationSpec(name=name)
    if name == "prelu":
        s.channel_alpha.shape.append(channels)
        s.channel_alpha.dtype = pb.DTYPE_FLOAT32
        s.channel_alpha.data = data(pb.DTYPE_FLOAT32, channels)
    if name == "maxout":
        s.pieces = 2
    if name in ("softmax", "log_softmax"):
        s.axis = -1
    return s


def tensor(dtype, shape):
    return pb.Tensor(shape=shape, dtype=dtype,
                     data=data(dtype, int(np.prod(shape))))


def write(fuzzer, name, payload):
    directory = os.path.join(ROOT, fuzzer)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(payload)


def output_shape(name, shape):
    return shape[:-1] + [shape[-1] // 2] if name == "maxout" else shape


def evaluate_requests():
    modes = [pb.MODE_FORWARD, pb.MODE_DERIVATIVE, pb.MODE_BACKWARD]
    dtypes = list(DTYPES)
    for i, name in enumerate(ACTIVATIONS):
        mode = modes[i % 3]
        dtype = dtypes[i % 4]
        shape = [3, 2] if name == "prelu" else [3, 4]  # channels: axis 1
        request = pb.EvaluateRequest(activation=spec(name), mode=mode)
        request.inputs.append(tensor(dtype, shape))
        request.inputs.append(tensor(dtype, [2, 2]))
        if mode == pb.MODE_BACKWARD:
            for x in request.inputs:
                request.grad_outputs.append(
                    tensor(dtype, output_shape(name, list(x.shape))))
        if i % 5 == 0:
            request.chunk_bytes = 1024
        write("evaluate_request_fuzzer", f"{name}", request.SerializeToString())
    # Bytes that are not an EvaluateRequest: a truncated submessage, and a
    # varint running off the end (issue 10 A).
    valid = request.SerializeToString()
    write("evaluate_request_fuzzer", "truncated", valid[:len(valid) // 2])
    write("evaluate_request_fuzzer", "bad_varint", b"\x10\xff\xff\xff")


def records(messages):
    out = b""
    for m in messages:
        payload = m.SerializeToString()
        out += struct.pack("<H", len(payload)) + payload
    return out


def stream_requests():
    for i, name in enumerate(["relu", "softmax", "prelu", "maxout", "gelu",
                              "log_softmax", "swish", "hardtanh"]):
        mode = [pb.MODE_FORWARD, pb.MODE_DERIVATIVE, pb.MODE_BACKWARD][i % 3]
        dtype = list(DTYPES)[i % 4]
        item = np.dtype(DTYPES[dtype]).itemsize
        messages = []
        for shape in ([4, 2] if name == "prelu" else [4, 6], [2, 2]):
            messages.append(pb.EvaluateStreamRequest(header=pb.StreamHeader(
                activation=spec(name), mode=mode, shape=shape, dtype=dtype)))
            count = int(np.prod(shape))
            x = data(dtype, count)
            grad_count = int(np.prod(output_shape(name, shape)))
            grad = data(dtype, grad_count) if mode == pb.MODE_BACKWARD else b""
            # Two pieces, split on whole units (rows for axis functions).
            half = shape[-1] * (shape[0] // 2)
            grad_half = grad_count * (shape[0] // 2) // shape[0]
            messages.append(pb.EvaluateStreamRequest(data=pb.StreamData(
                x_offset=0, x=x[:half * item],
                grad_offset=0, grad_output=grad[:grad_half * item])))
            messages.append(pb.EvaluateStreamRequest(data=pb.StreamData(
                x_offset=half, x=x[half * item:],
                grad_offset=grad_half if grad else 0,
                grad_output=grad[grad_half * item:])))
        write("evaluate_stream_fuzzer", name, records(messages))
    # A record that does not parse (issue 10 B): the stream must fail.
    garbage = b"\x0a\xff\xff\xff\x0f"
    write("evaluate_stream_fuzzer", "garbage",
          struct.pack("<H", len(garbage)) + garbage)


def npy_files():
    arrays = {
        "f4_2d": np.arange(6, dtype="<f4").reshape(2, 3),
        "f8_1d": np.linspace(-1, 1, 5).astype("<f8"),
        "f2_3d": np.ones((2, 1, 2), dtype="<f2"),
        "u2_1d": np.arange(4, dtype="<u2"),
        "f4_0d": np.array(1.5, dtype="<f4"),
        "f4_empty": np.zeros((0, 3), dtype="<f4"),
        "fortran_1d": np.asfortranarray(np.arange(3, dtype="<f4")),
    }
    for name, array in arrays.items():
        for flag, suffix in ((b"\0", ""), (b"\1", "_bf16")):
            if suffix and array.dtype != np.uint16:
                continue
            f = io.BytesIO()
            np.save(f, array)
            write("npy_fuzzer", name + suffix, flag + f.getvalue())
    f = io.BytesIO()
    np.lib.format.write_array(f, np.arange(3, dtype="<f4"), version=(2, 0))
    write("npy_fuzzer", "f4_v2", b"\0" + f.getvalue())


evaluate_requests()
stream_requests()
npy_files()
