"""Read an ONNX ModelProto back into plain Python objects (no ``onnx`` package needed).

``load_model(bytes_or_path)`` returns a dict: ``ir_version``, ``opset_import`` ({domain: version}),
``producer_name``, ``producer_version`` and ``graph``: ``name``, ``nodes`` (dicts of ``op_type``, ``inputs``,
``outputs``, ``name``, ``domain``, ``attrs``), ``initializers`` ({name: ndarray}), ``inputs``/``outputs``
(lists of ``(name, elem_type, shape)``, a shape holding ints and dim_param strings). It reads what
``ttorch.onnx.export`` writes (raw_data tensors and the typed ``*_data`` fields); external data is not read.
"""
import struct

import numpy as np

from ..utils._protobuf import decode, repeated_ints, repeated_floats, as_int64
from . import _proto as P


def _str(fields, n, default=""):
    return fields[n][-1].decode("utf-8") if n in fields else default


def read_tensor(buf):
    f = decode(buf)
    dims = repeated_ints(f.get(1, []))
    dt = f.get(2, [P.FLOAT])[-1]
    if dt == P.BFLOAT16:
        bits = np.frombuffer(f[9][-1], dtype="<u2") if 9 in f else np.asarray(repeated_ints(f.get(5, [])), np.uint16)
        arr = (bits.astype(np.uint32) << 16).view(np.float32)
    elif 9 in f:
        arr = np.frombuffer(f[9][-1], dtype=np.dtype(P.TO_NUMPY[dt]).newbyteorder("<")).astype(P.TO_NUMPY[dt])
    elif dt == P.FLOAT:
        arr = np.asarray(repeated_floats(f.get(4, [])), np.float32)
    elif dt == P.DOUBLE:
        arr = np.asarray([x for v in f.get(10, []) for x in struct.unpack(f"<{len(v) // 8}d", v)], np.float64)
    elif dt == P.INT64:
        arr = np.asarray(repeated_ints(f.get(7, [])), np.int64)
    else:                              # int32_data carries the narrow ints, bool and float16 bit patterns
        vals = repeated_ints(f.get(5, []))
        arr = (np.asarray(vals, np.uint16).view(np.float16) if dt == P.FLOAT16
               else np.asarray(vals, P.TO_NUMPY[dt]))
    return _str(f, 8), arr.reshape(dims)


def _attribute(buf):
    f = decode(buf)
    kind = f.get(20, [0])[-1]
    if kind == P.A_FLOAT:
        value = struct.unpack("<f", f[2][-1])[0] if 2 in f else 0.0
    elif kind == P.A_INT:
        value = as_int64(f.get(3, [0])[-1])
    elif kind == P.A_STRING:
        value = f.get(4, [b""])[-1].decode("utf-8")
    elif kind == P.A_TENSOR:
        value = read_tensor(f[5][-1])[1]
    elif kind == P.A_GRAPH:
        value = read_graph(f[6][-1])
    elif kind == P.A_FLOATS:
        value = repeated_floats(f.get(7, []))
    elif kind == P.A_INTS:
        value = repeated_ints(f.get(8, []))
    elif kind == P.A_STRINGS:
        value = [s.decode("utf-8") for s in f.get(9, [])]
    else:
        raise ValueError(f"attribute {_str(f, 1)}: unsupported type {kind}")
    return _str(f, 1), value


def _value_info(buf):
    f = decode(buf)
    ttype = decode(decode(f[2][-1])[1][-1]) if 2 in f else {}
    shape = None
    if 2 in ttype:
        shape = []
        for d in decode(ttype[2][-1]).get(1, []):
            d = decode(d)
            shape.append(d[2][-1].decode("utf-8") if 2 in d else as_int64(d.get(1, [0])[-1]) if 1 in d else None)
    return _str(f, 1), ttype.get(1, [0])[-1], shape


def _node(buf):
    f = decode(buf)
    return {"op_type": _str(f, 4), "name": _str(f, 3), "domain": _str(f, 7),
            "inputs": [s.decode("utf-8") for s in f.get(1, [])], "outputs": [s.decode("utf-8") for s in f.get(2, [])],
            "attrs": dict(_attribute(a) for a in f.get(5, []))}


def read_graph(buf):
    f = decode(buf)
    return {"name": _str(f, 2), "nodes": [_node(n) for n in f.get(1, [])],
            "initializers": dict(read_tensor(t) for t in f.get(5, [])),
            "inputs": [_value_info(v) for v in f.get(11, [])], "outputs": [_value_info(v) for v in f.get(12, [])],
            "value_info": [_value_info(v) for v in f.get(13, [])]}


def load_model(f):
    """Decode a ModelProto from bytes, a path or a binary file object."""
    if isinstance(f, (bytes, bytearray, memoryview)):
        data = bytes(f)
    elif hasattr(f, "read"):
        data = f.read()
    else:
        with open(f, "rb") as fh:
            data = fh.read()
    m = decode(data)
    opsets = {}
    for o in m.get(8, []):
        o = decode(o)
        opsets[_str(o, 1)] = o.get(2, [0])[-1]
    return {"ir_version": m.get(1, [0])[-1], "producer_name": _str(m, 2), "producer_version": _str(m, 3),
            "doc_string": _str(m, 6), "opset_import": opsets, "graph": read_graph(m[7][-1]) if 7 in m else None}
