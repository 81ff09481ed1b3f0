"""A hand-written protobuf encoder for the few TensorBoard messages SummaryWriter writes.

Each builder returns the message's wire bytes. Fields go out in field-number order, and proto3 scalars
that hold their default value are left out, as protobuf's own serializer does; fields with presence
(sub-messages, oneof members) are always written when given. Field numbers come from TensorBoard's
``event.proto``, ``summary.proto``, ``tensor.proto``, ``tensor_shape.proto``, the hparams plugin's
``api.proto``/``plugin_data.proto`` and ``google/protobuf/struct.proto``; the wire format is
``ttorch.utils._protobuf`` (shared with ``ttorch.onnx``).
"""
from .._protobuf import f_varint, f_double, f_float, f_bytes, f_message, f_packed

# tensorflow.DataType (types.proto)
DT = {"DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT16": 5, "DT_INT8": 6,
      "DT_STRING": 7, "DT_COMPLEX64": 8, "DT_INT64": 9, "DT_BOOL": 10, "DT_BFLOAT16": 14,
      "DT_COMPLEX128": 18, "DT_HALF": 19}


# ---- tensorboard.Event ----------------------------------------------------------------------------
def event(wall_time=0.0, step=0, file_version=None, summary=None, session_log_status=None, source_writer=None):
    """``Event{wall_time=1, step=2, file_version=3 | summary=5 | session_log=7, source_metadata=10}``."""
    out = f_double(1, wall_time) + f_varint(2, step)
    if file_version is not None:
        out += f_bytes(3, file_version, always=True)
    out += f_message(5, summary)
    if session_log_status is not None:
        out += f_message(7, f_varint(1, session_log_status))
    if source_writer is not None:
        out += f_message(10, f_bytes(1, source_writer))
    return out


def summary(*values):
    """``Summary{repeated Value value=1}``."""
    return b"".join(f_message(1, v) for v in values)


def summary_value(tag, simple_value=None, image=None, histo=None, audio=None, tensor=None, metadata=None):
    """``Summary.Value{tag=1, simple_value=2 | image=4 | histo=5 | audio=6 | tensor=8, metadata=9}``."""
    out = f_bytes(1, tag)
    if simple_value is not None:
        out += f_float(2, simple_value, always=True)
    return out + f_message(4, image) + f_message(5, histo) + f_message(6, audio) + f_message(8, tensor) \
        + f_message(9, metadata)


def image(height, width, colorspace, encoded):
    """``Summary.Image{height=1, width=2, colorspace=3, encoded_image_string=4}``."""
    return f_varint(1, height) + f_varint(2, width) + f_varint(3, colorspace) + f_bytes(4, encoded)


def audio(sample_rate, num_channels, length_frames, encoded, content_type):
    """``Summary.Audio{sample_rate=1 (float), num_channels=2, length_frames=3, encoded=4, content_type=5}``."""
    return (f_float(1, sample_rate) + f_varint(2, num_channels) + f_varint(3, length_frames)
            + f_bytes(4, encoded) + f_bytes(5, content_type))


def histogram(min, max, num, sum, sum_squares, bucket_limit, bucket):
    """``HistogramProto{min=1, max=2, num=3, sum=4, sum_squares=5, bucket_limit=6, bucket=7}`` (doubles)."""
    return (f_double(1, min) + f_double(2, max) + f_double(3, num) + f_double(4, sum)
            + f_double(5, sum_squares) + f_packed(6, bucket_limit, "double") + f_packed(7, bucket, "double"))


def summary_metadata(plugin_name, content=b""):
    """``SummaryMetadata{plugin_data=1: PluginData{plugin_name=1, content=2}}``."""
    return f_message(1, f_bytes(1, plugin_name) + f_bytes(2, content))


def tensor_shape(dims):
    """``TensorShapeProto{repeated Dim dim=2: Dim{size=1}}``."""
    return b"".join(f_message(2, f_varint(1, d)) for d in dims)


# TensorProto value fields: name -> (field number, packed kind or None for repeated bytes)
_TENSOR_FIELDS = {"float_val": (5, "float"), "double_val": (6, "double"), "int_val": (7, "varint"),
                  "string_val": (8, None), "scomplex_val": (9, "float"), "int64_val": (10, "varint"),
                  "bool_val": (11, "varint"), "dcomplex_val": (12, "double"), "half_val": (13, "varint"),
                  "uint32_val": (16, "varint")}


def tensor(dtype, shape=None, **values):
    """``TensorProto{dtype=1, tensor_shape=2, <kind>_val=...}``; ``shape=None`` leaves the shape out."""
    out = f_varint(1, DT[dtype]) + (b"" if shape is None else f_message(2, tensor_shape(shape)))
    for name, (field, kind) in sorted(_TENSOR_FIELDS.items(), key=lambda kv: kv[1][0]):
        if name not in values:
            continue
        if kind is None:
            out += b"".join(f_bytes(field, v, always=True) for v in values[name])
        else:
            out += f_packed(field, values[name], kind)
    return out


# ---- hparams plugin -------------------------------------------------------------------------------
def struct_value(v):
    """``google.protobuf.Value``: number_value=2 (double), string_value=3, bool_value=4 (a oneof)."""
    if isinstance(v, str):
        return f_bytes(3, v, always=True)
    if isinstance(v, bool):
        return f_varint(4, v, always=True)
    return f_double(2, float(v), always=True)


def hparam_info(name, type_, domain_discrete=None):
    """``HParamInfo{name=1, type=4, domain_discrete=5: ListValue{repeated Value values=1}}``."""
    domain = None if domain_discrete is None else b"".join(f_message(1, struct_value(d)) for d in domain_discrete)
    return f_bytes(1, name) + f_varint(4, type_) + f_message(5, domain)


def experiment(hparam_infos, metric_tags):
    """``Experiment{hparam_infos=4, metric_infos=5: MetricInfo{name=1: MetricName{tag=2}}}``."""
    return (b"".join(f_message(4, h) for h in hparam_infos)
            + b"".join(f_message(5, f_message(1, f_bytes(2, t))) for t in metric_tags))


def session_start_info(hparams):
    """``SessionStartInfo{map<string, Value> hparams=1}`` from ``(name, Value bytes)`` pairs."""
    return b"".join(f_message(1, f_bytes(1, k, always=True) + f_message(2, v)) for k, v in hparams)


def session_end_info(status):
    """``SessionEndInfo{status=1}``."""
    return f_varint(1, status)


def hparams_plugin_data(version=0, experiment=None, session_start_info=None, session_end_info=None):
    """``HParamsPluginData{version=1, experiment=2 | session_start_info=3 | session_end_info=4}``."""
    return (f_varint(1, version) + f_message(2, experiment) + f_message(3, session_start_info)
            + f_message(4, session_end_info))


def pr_curve_plugin_data(num_thresholds, version=0):
    """``PrCurvePluginData{version=1, num_thresholds=2}``."""
    return f_varint(1, version) + f_varint(2, num_thresholds)
