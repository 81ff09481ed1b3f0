"""ONNX's messages (``onnx.proto``, proto2) written with the shared protobuf encoder.

Builders return wire bytes; field numbers are onnx.proto's. proto2 optional scalars are written whenever given
(``always=True``) and repeated scalars unpacked, as onnx's own serializer does.
"""
import numpy as np

from ..utils._protobuf import f_varint, f_float, f_bytes, f_message, f_repeated

# TensorProto.DataType
FLOAT, UINT8, INT8, UINT16, INT16, INT32, INT64, STRING, BOOL, FLOAT16, DOUBLE = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
UINT32, UINT64, BFLOAT16 = 12, 13, 16
_FROM_NAME = {"float32": FLOAT, "uint8": UINT8, "int8": INT8, "uint16": UINT16, "int16": INT16, "int32": INT32,
              "int64": INT64, "bool": BOOL, "float16": FLOAT16, "float64": DOUBLE, "uint32": UINT32,
              "uint64": UINT64, "bfloat16": BFLOAT16}
TO_NUMPY = {FLOAT: np.float32, UINT8: np.uint8, INT8: np.int8, UINT16: np.uint16, INT16: np.int16,
            INT32: np.int32, INT64: np.int64, BOOL: np.bool_, FLOAT16: np.float16, DOUBLE: np.float64,
            UINT32: np.uint32, UINT64: np.uint64}
# AttributeProto.AttributeType
A_FLOAT, A_INT, A_STRING, A_TENSOR, A_GRAPH, A_FLOATS, A_INTS, A_STRINGS = 1, 2, 3, 4, 5, 6, 7, 8
# the IR version each opset was released with (onnx/helper.py's VERSION_TABLE)
IR_VERSION = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9}


def elem_type(dtype):
    """ONNX element type of a ttorch dtype or NumPy dtype (by name: ``ttorch.float32`` -> FLOAT)."""
    name = str(dtype).rsplit(".", 1)[-1]
    name = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32",
            "bool_": "bool"}.get(name, name)
    if name not in _FROM_NAME:
        raise TypeError(f"ONNX export does not support the dtype {dtype}")
    return _FROM_NAME[name]


def tensor(name, array, data_type=None):
    """``TensorProto{dims=1, data_type=2, name=8, raw_data=9}``; bfloat16 goes as its raw 16-bit patterns."""
    array = np.asarray(array)
    if data_type is None:
        data_type = elem_type(array.dtype)
    if data_type == BFLOAT16 and array.dtype != np.uint16:
        array = (np.ascontiguousarray(array, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return (f_repeated(1, array.shape, "varint") + f_varint(2, data_type, always=True) + f_bytes(8, name)
            + f_bytes(9, raw, always=True))


def attribute(name, value):
    """``AttributeProto{name=1, f=2, i=3, s=4, t=5, floats=7, ints=8, strings=9, type=20}`` from a Python value.

    The type follows the value: float, int/bool, str/bytes, an ndarray (a tensor), or a list of one of those
    scalar kinds; a ``(kind, value)`` pair with kind "f", "i", "s", "t", "fs", "is", "ss" forces it.
    """
    kind = None
    if isinstance(value, tuple) and len(value) == 2 and value[0] in ("f", "i", "s", "t", "fs", "is", "ss"):
        kind, value = value
    if kind is None:
        if isinstance(value, np.ndarray):
            kind = "t"
        elif isinstance(value, (bool, int, np.integer)):
            kind = "i"
        elif isinstance(value, (float, np.floating)):
            kind = "f"
        elif isinstance(value, (str, bytes)):
            kind = "s"
        elif isinstance(value, (list, tuple)):
            kind = "fs" if any(isinstance(v, (float, np.floating)) for v in value) else \
                "ss" if value and isinstance(value[0], (str, bytes)) else "is"
        else:
            raise TypeError(f"attribute {name}: unsupported value {value!r}")
    out = f_bytes(1, name)
    if kind == "f":
        return out + f_float(2, float(value), always=True) + f_varint(20, A_FLOAT)
    if kind == "i":
        return out + f_varint(3, int(value), always=True) + f_varint(20, A_INT)
    if kind == "s":
        return out + f_bytes(4, value, always=True) + f_varint(20, A_STRING)
    if kind == "t":          # an ndarray, or (ndarray, elem_type) for bfloat16 held as float32
        arr, et = value if isinstance(value, tuple) else (value, None)
        return out + f_message(5, tensor("", arr, et)) + f_varint(20, A_TENSOR)
    if kind == "fs":
        return out + f_repeated(7, [float(v) for v in value], "float") + f_varint(20, A_FLOATS)
    if kind == "is":
        return out + f_repeated(8, [int(v) for v in value], "varint") + f_varint(20, A_INTS)
    return out + f_repeated(9, value, "bytes") + f_varint(20, A_STRINGS)


def node(op_type, inputs, outputs, name="", attrs=None, domain=""):
    """``NodeProto{input=1, output=2, name=3, op_type=4, attribute=5, domain=7}``; attributes sorted by name."""
    out = f_repeated(1, inputs, "bytes") + f_repeated(2, outputs, "bytes") + f_bytes(3, name) + f_bytes(4, op_type)
    for k in sorted(attrs or {}):
        out += f_message(5, attribute(k, attrs[k]))
    return out + f_bytes(7, domain)


def value_info(name, data_type, shape):
    """``ValueInfoProto{name=1, type=2: TypeProto{tensor_type=1: {elem_type=1, shape=2}}}``.

    ``shape`` holds ints (``dim_value``), strings (``dim_param``, a dynamic dim) and None (an unknown dim);
    ``shape=None`` leaves the shape out.
    """
    dims = None
    if shape is not None:
        dims = b"".join(f_message(1, b"" if d is None else f_bytes(2, d, always=True) if isinstance(d, str)
                                  else f_varint(1, d, always=True)) for d in shape)
    ttype = f_varint(1, data_type, always=True) + f_message(2, dims)
    return f_bytes(1, name) + f_message(2, f_message(1, ttype))


def graph(nodes, name, initializers, inputs, outputs, doc_string=""):
    """``GraphProto{node=1, name=2, initializer=5, doc_string=10, input=11, output=12}``."""
    return (b"".join(f_message(1, n) for n in nodes) + f_bytes(2, name)
            + b"".join(f_message(5, t) for t in initializers) + f_bytes(10, doc_string)
            + b"".join(f_message(11, v) for v in inputs) + b"".join(f_message(12, v) for v in outputs))


def model(graph_bytes, opsets, producer_name, producer_version, doc_string=""):
    """``ModelProto{ir_version=1, producer_name=2, producer_version=3, doc_string=6, graph=7, opset_import=8}``.

    ``opsets`` maps a domain ("" is ONNX's own) to its version; the IR version follows the default domain's.
    """
    ir = IR_VERSION.get(opsets.get("", 18), 8)
    out = f_varint(1, ir, always=True) + f_bytes(2, producer_name) + f_bytes(3, producer_version)
    out += f_bytes(6, doc_string) + f_message(7, graph_bytes)
    for domain, version in opsets.items():
        out += f_message(8, f_bytes(1, domain, always=True) + f_varint(2, version, always=True))
    return out
