"""actserve._wire against the generated classes: what it encodes parses to
the same message, and what protobuf serializes it decodes the same way."""

import numpy as np
import pytest

from actserve import _wire
from actserve.v1 import actserve_pb2 as pb


@pytest.mark.parametrize("x_offset", [0, 1, 127, 128, 1 << 40])
@pytest.mark.parametrize("with_grad", [False, True])
def test_stream_data_parses_as_protobuf_writes_it(x_offset, with_grad):
    rng = np.random.default_rng(x_offset)
    x = memoryview(rng.bytes(300))
    grad = memoryview(rng.bytes(200)) if with_grad else None
    encoded = _wire.stream_data_request(x_offset, x, 7, grad)
    want = pb.EvaluateStreamRequest(data=pb.StreamData(
        x_offset=x_offset, x=x.tobytes()))
    if with_grad:
        want.data.grad_offset = 7
        want.data.grad_output = grad.tobytes()
    assert pb.EvaluateStreamRequest.FromString(encoded) == want


def _response(**chunk_fields):
    return pb.EvaluateStreamResponse(chunk=pb.OutputChunk(**chunk_fields))


@pytest.mark.parametrize("message", [
    _response(element_offset=5, data=b"\x01\x02\x03\x04"),
    _response(input_index=0, element_offset=(1 << 35) + 3,
              data=bytes(range(256)) * 9),
    _response(header=pb.TensorHeader(shape=[2, 0, 3], dtype=pb.DTYPE_FLOAT64),
              data=b""),
    _response(input_index=-1, element_offset=-2, data=b"ab"),
    _response(),
])
def test_output_chunk_reads_what_protobuf_writes(message):
    chunk = _wire.output_chunk(message.SerializeToString())
    want = message.chunk
    assert chunk.input_index == want.input_index
    assert chunk.element_offset == want.element_offset
    assert chunk.data.tobytes() == want.data
    if want.HasField("header"):
        assert pb.TensorHeader.FromString(chunk.header.tobytes()) == \
            want.header
    else:
        assert chunk.header is None


def test_unknown_fields_are_skipped():
    chunk = pb.OutputChunk(element_offset=9, data=b"xyz").SerializeToString()
    # Fields 5 (varint), 6 (fixed64), 7 (bytes), 8 (fixed32) of a newer
    # server, around the known ones.
    extra = (b"\x28\x96\x01" + b"\x31" + bytes(8) + b"\x3a\x02hi"
             + b"\x45" + bytes(4))
    body = extra + chunk + extra
    response = b"\x0a" + _wire.encode_varint(len(body)) + body
    got = _wire.output_chunk(response)
    assert (got.element_offset, got.data.tobytes()) == (9, b"xyz")


def test_other_payloads_are_left_to_protobuf():
    done = pb.EvaluateStreamResponse(done=pb.StreamTensorDone(
        input_elements=3))
    assert _wire.output_chunk(done.SerializeToString()) is None
    assert _wire.output_chunk(b"") is None


@pytest.mark.parametrize("broken", [
    b"\x0a\x05\x22\x10abc",  # data longer than the message
    b"\x0a\x7f",             # chunk longer than the response
    b"\x0a\x02\x10\xff",     # varint cut short
    b"\x0a\x01\x0b",         # wire type 3 (groups)
])
def test_malformed_bytes_raise(broken):
    with pytest.raises(_wire.WireError):
        _wire.output_chunk(broken)
