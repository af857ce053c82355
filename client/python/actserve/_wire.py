"""EvaluateStream's data messages, encoded and decoded by hand.

Debian's protobuf runtime (the C++ one) copies a `bytes` field whole each
time Python sets or reads it, and again to serialize or parse the message:
a tensor crossed memory four times on each side. Through these functions
each byte is copied once: from the caller's array into the request, and
from the response into the output array. Only the two messages that carry
tensor data take this route; every other message (headers, summaries,
parameter gradients) goes through the generated classes.

Wire format: https://protobuf.dev/programming-guides/encoding/ . Field
numbers are those of proto/actserve/v1/actserve.proto; tests/client/python/
test_wire.py checks both directions against the generated classes.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not a well-formed message."""


def _key(field: int, wire_type: int) -> bytes:
    return encode_varint(field << 3 | wire_type)


def encode_varint(value: int) -> bytes:
    """A non-negative integer as a base-128 varint."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: memoryview, pos: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _skip(data: memoryview, pos: int, wire_type: int) -> int:
    """The position after a field's value (an unknown field's)."""
    if wire_type == _VARINT:
        return _read_varint(data, pos)[1]
    if wire_type == _LENGTH_DELIMITED:
        length, pos = _read_varint(data, pos)
        end = pos + length
    elif wire_type == _FIXED64:
        end = pos + 8
    elif wire_type == _FIXED32:
        end = pos + 4
    else:
        raise WireError(f"unsupported wire type {wire_type}")
    if end > len(data):
        raise WireError("truncated field")
    return end


# EvaluateStreamRequest.data (2) = StreamData {x_offset 1, x 2,
# grad_offset 3, grad_output 4}.
_REQUEST_DATA = _key(2, _LENGTH_DELIMITED)
_X_OFFSET, _X = _key(1, _VARINT), _key(2, _LENGTH_DELIMITED)
_GRAD_OFFSET, _GRAD = _key(3, _VARINT), _key(4, _LENGTH_DELIMITED)


def stream_data_request(x_offset: int, x: memoryview,
                        grad_offset: int = 0,
                        grad: Optional[memoryview] = None) -> bytes:
    """A serialized EvaluateStreamRequest whose payload is StreamData."""
    fields = [_X_OFFSET, encode_varint(x_offset), _X,
              encode_varint(len(x)), x]
    if grad is not None:
        fields += [_GRAD_OFFSET, encode_varint(grad_offset), _GRAD,
                   encode_varint(len(grad)), grad]
    length = sum(len(field) for field in fields)
    return b"".join([_REQUEST_DATA, encode_varint(length), *fields])


class Chunk(NamedTuple):
    """An OutputChunk whose data is a view into the received message."""
    input_index: int
    element_offset: int
    header: Optional[memoryview]  # a serialized TensorHeader, when present
    data: memoryview


def output_chunk(response: bytes) -> Optional[Chunk]:
    """The OutputChunk of a serialized EvaluateStreamResponse, or None when
    the response is anything else (to be parsed by the generated class).

    Raises WireError on malformed bytes.
    """
    view = memoryview(response)
    # payload: chunk (field 1). A response that starts otherwise, or holds
    # more than the one chunk, is left to protobuf.
    if view[:1] != b"\x0a":
        return None
    length, pos = _read_varint(view, 1)
    if pos + length != len(view):
        if pos + length > len(view):
            raise WireError("truncated chunk")
        return None
    input_index = element_offset = 0
    header = None
    data = view[0:0]
    while pos < len(view):
        key, pos = _read_varint(view, pos)
        field, wire_type = key >> 3, key & 7
        if field in (1, 2) and wire_type == _VARINT:
            value, pos = _read_varint(view, pos)
            # int32 / int64: negative values arrive as 64-bit two's
            # complement.
            if value >= 1 << 63:
                value -= 1 << 64
            if field == 1:
                input_index = value
            else:
                element_offset = value
        elif field in (3, 4) and wire_type == _LENGTH_DELIMITED:
            end = _skip(view, pos, wire_type)
            size_end = _read_varint(view, pos)[1]
            if field == 3:
                header = view[size_end:end]
            else:
                data = view[size_end:end]
            pos = end
        else:
            pos = _skip(view, pos, wire_type)
    return Chunk(input_index, element_offset, header, data)
