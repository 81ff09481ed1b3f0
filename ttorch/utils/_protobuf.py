"""The protobuf wire format, hand-written: the encoders TensorBoard's event files and ONNX models share, and
a small decoder that reads any message back as ``{field number: [values]}``.

Encoders take a field number and a value and return bytes; scalar helpers leave a field out when it holds its
default value (proto3's rule) unless ``always=True`` (proto2's optional fields with presence, ONNX's case).
"""
import struct

import numpy as np

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def varint(n):
    n = int(n)
    if n < 0:                       # negative int32/int64 travel as 10-byte two's complement
        n &= (1 << 64) - 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, value, always=False):
    return key(field, VARINT) + varint(value) if (value or always) else b""


def f_double(field, value, always=False):
    return key(field, I64) + struct.pack("<d", value) if (value or always) else b""


def f_float(field, value, always=False):
    return key(field, I32) + struct.pack("<f", value) if (value or always) else b""


def f_bytes(field, value, always=False):
    if isinstance(value, str):
        value = value.encode("utf-8")
    return key(field, LEN) + varint(len(value)) + value if (value or always) else b""


def f_message(field, body):
    """A sub-message: written whenever given (``None`` means absent), even when empty."""
    return b"" if body is None else key(field, LEN) + varint(len(body)) + body


def f_packed(field, values, kind):
    """A packed repeated field: ``kind`` is "double", "float" or "varint"."""
    values = list(values)
    if not values:
        return b""
    if kind == "double":
        body = np.asarray(values, dtype="<f8").tobytes()
    elif kind == "float":
        body = np.asarray(values, dtype="<f4").tobytes()
    else:
        body = b"".join(varint(v) for v in values)
    return key(field, LEN) + varint(len(body)) + body


def f_repeated(field, values, kind):
    """An unpacked repeated scalar field (proto2's default): one key per element."""
    enc = {"varint": f_varint, "float": f_float, "double": f_double, "bytes": f_bytes}[kind]
    return b"".join(enc(field, v, always=True) for v in values)


# ---- decoding -------------------------------------------------------------------------------------
def _read_varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def decode(buf):
    """Split one message into ``{field: [raw values]}``: ints for varints, bytes for the other wire types."""
    out, i, n = {}, 0, len(buf)
    while i < n:
        k, i = _read_varint(buf, i)
        field, wire = k >> 3, k & 7
        if wire == VARINT:
            v, i = _read_varint(buf, i)
        elif wire == I64:
            v, i = bytes(buf[i:i + 8]), i + 8
        elif wire == I32:
            v, i = bytes(buf[i:i + 4]), i + 4
        elif wire == LEN:
            size, i = _read_varint(buf, i)
            v, i = bytes(buf[i:i + size]), i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.setdefault(field, []).append(v)
    return out


def as_int64(v):
    """A decoded varint as a signed int64."""
    return v - (1 << 64) if v >= 1 << 63 else v


def repeated_ints(values):
    """A repeated int64 field, whether it was written packed (bytes) or not (ints)."""
    out = []
    for v in values:
        if isinstance(v, bytes):
            i = 0
            while i < len(v):
                x, i = _read_varint(v, i)
                out.append(as_int64(x))
        else:
            out.append(as_int64(v))
    return out


def repeated_floats(values):
    """A repeated float field, packed (one bytes blob) or not (4 bytes each)."""
    return [x for v in values for x in struct.unpack(f"<{len(v) // 4}f", v)]
