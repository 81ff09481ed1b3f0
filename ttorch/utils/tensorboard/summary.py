"""Summary builders: each returns a serialized ``Summary`` protobuf (bytes) as PyTorch's returns a message.

The values follow ``torch.utils.tensorboard.summary``: the same histogram buckets, image layouts and
scaling, text and hparams plugin data. Deliberate differences in ``tensor_proto``, where ttorch writes what
TensorBoard's ``make_ndarray`` reads back: float16/bfloat16 go to ``half_val`` as their 16-bit patterns
(PyTorch writes float32 bit patterns there) and uint8 to ``int_val`` (PyTorch's ``uint32_val``).
"""
import io
import logging
import wave

import numpy as np

import ttorch
from . import _proto
from ._image import convert_to_HWC, encode_png

__all__ = ["make_np", "scalar", "tensor_proto", "histogram_raw", "histogram", "make_histogram", "image",
           "image_boxes", "make_image", "audio", "custom_scalars", "text", "hparams", "pr_curve_raw",
           "pr_curve", "compute_curve"]

logger = logging.getLogger(__name__)


def make_np(x):
    """A NumPy array from a ttorch Tensor (any device), a NumPy array or a Python/NumPy scalar."""
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    if isinstance(x, ttorch.Tensor):
        if x.dtype == ttorch.bfloat16:     # as PyTorch: NumPy has no bfloat16
            x = x.to(ttorch.float16)
        return x.detach().cpu().numpy()
    raise NotImplementedError(f"Got {type(x)}, but numpy array or torch tensor are expected.")


def scalar(name, tensor, collections=None, new_style=False, double_precision=False):
    """A ``Summary`` with one scalar: ``simple_value`` (float32), or a tensor with ``new_style=True``."""
    tensor = make_np(tensor).squeeze()
    if tensor.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). \
            Was given size: {tensor.size} and {tensor.ndim} dimensions.")
    value = float(tensor)
    if not new_style:
        return _proto.summary(_proto.summary_value(name, simple_value=value))
    if double_precision:
        proto = _proto.tensor("DT_DOUBLE", double_val=[value])
    else:
        proto = _proto.tensor("DT_FLOAT", float_val=[value])
    return _proto.summary(_proto.summary_value(name, tensor=proto, metadata=_proto.summary_metadata("scalars")))


def _tensor_type_map():
    def half_bits(a):          # the 16-bit patterns TensorBoard reads back from half_val
        return a.astype(np.float16).view(np.uint16).reshape(-1).tolist()

    def bfloat16_bits(a):      # a holds bfloat16 values widened to float32: their top halves are exact
        return (a.astype(np.float32).view(np.uint32) >> 16).reshape(-1).tolist()

    def as_list(a):
        return a.reshape(-1).tolist()

    def complex_list(a):
        return np.stack([a.real, a.imag], -1).reshape(-1).tolist()

    t = ttorch
    return {t.float16: ("DT_HALF", "half_val", half_bits), t.bfloat16: ("DT_BFLOAT16", "half_val", bfloat16_bits),
            t.float32: ("DT_FLOAT", "float_val", as_list), t.float64: ("DT_DOUBLE", "double_val", as_list),
            t.int8: ("DT_INT8", "int_val", as_list), t.uint8: ("DT_UINT8", "int_val", as_list),
            t.int16: ("DT_INT16", "int_val", as_list), t.int32: ("DT_INT32", "int_val", as_list),
            t.int64: ("DT_INT64", "int64_val", as_list), t.bool: ("DT_BOOL", "bool_val", as_list),
            t.complex64: ("DT_COMPLEX64", "scomplex_val", complex_list),
            t.complex128: ("DT_COMPLEX128", "dcomplex_val", complex_list)}


def tensor_proto(tag, tensor):
    """A ``Summary`` holding the whole tensor as a ``TensorProto`` (plugin "tensor")."""
    if tensor.numel() * tensor.element_size() >= (1 << 31):
        raise ValueError("tensor is bigger than protocol buffer's hard limit of 2GB in size")
    types = _tensor_type_map()
    if tensor.dtype not in types:
        raise ValueError(f"{tag} has unsupported tensor dtype {tensor.dtype}")
    dtype, field, convert = types[tensor.dtype]
    values = tensor.detach().cpu()
    values = values.float().numpy() if tensor.dtype == ttorch.bfloat16 else values.numpy()
    proto = _proto.tensor(dtype, shape=list(tensor.shape), **{field: convert(values)})
    return _proto.summary(_proto.summary_value(tag, tensor=proto, metadata=_proto.summary_metadata("tensor")))


def histogram_raw(name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    """A ``Summary`` with a histogram given by its statistics and buckets."""
    def as_list(x):
        return list(x) if isinstance(x, (list, tuple)) else make_np(x).reshape(-1).tolist()

    hist = _proto.histogram(min, max, num, sum, sum_squares, as_list(bucket_limits), as_list(bucket_counts))
    return _proto.summary(_proto.summary_value(name, histo=hist))


def histogram(name, values, bins, max_bins=None):
    """A ``Summary`` with the histogram of ``values`` (float64) over ``bins``."""
    values = make_np(values)
    return _proto.summary(_proto.summary_value(name, histo=make_histogram(values.astype(float), bins, max_bins)))


def make_histogram(values, bins, max_bins=None):
    """``HistogramProto`` bytes of ``values``: NumPy's counts trimmed to the occupied range (histogram.cc)."""
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    num_bins = len(counts)
    if max_bins is not None and num_bins > max_bins:
        subsampling = num_bins // max_bins
        subsampling_remainder = num_bins % subsampling
        if subsampling_remainder != 0:
            counts = np.pad(counts, pad_width=[[0, subsampling - subsampling_remainder]], mode="constant",
                            constant_values=0)
        counts = counts.reshape(-1, subsampling).sum(axis=-1)
        new_limits = np.empty((counts.size + 1,), limits.dtype)
        new_limits[:-1] = limits[:-1:subsampling]
        new_limits[-1] = limits[-1]
        limits = new_limits
    # the first and last bins holding values bound the support
    cum_counts = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    # TensorBoard keeps only right bin limits: an empty bin on the left carries the leftmost limit
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    if counts.size == 0 or limits.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    return _proto.histogram(values.min(), values.max(), len(values), values.sum(), values.dot(values),
                            limits.tolist(), counts.tolist())


def _calc_scale_factor(tensor):
    return 1 if tensor.dtype == np.uint8 else 255


def image(tag, tensor, rescale=1, dataformats="NCHW"):
    """A ``Summary`` with one PNG image: floats in [0, 1] are scaled by 255, uint8 kept; both clipped."""
    tensor = convert_to_HWC(make_np(tensor), dataformats)
    scale_factor = _calc_scale_factor(tensor)
    tensor = (tensor.astype(np.float32) * scale_factor).clip(0, 255).astype(np.uint8)
    return _proto.summary(_proto.summary_value(tag, image=make_image(tensor, rescale=rescale)))


def image_boxes(tag, tensor_image, tensor_boxes, rescale=1, dataformats="CHW", labels=None):
    """A ``Summary`` with an image and red ``(xmin, ymin, xmax, ymax)`` boxes (drawing needs ``pillow``)."""
    tensor_image = convert_to_HWC(make_np(tensor_image), dataformats)
    tensor_boxes = make_np(tensor_boxes)
    tensor_image = tensor_image.astype(np.float32) * _calc_scale_factor(tensor_image)
    img = make_image(tensor_image.clip(0, 255).astype(np.uint8), rescale=rescale, rois=tensor_boxes,
                     labels=labels)
    return _proto.summary(_proto.summary_value(tag, image=img))


def _draw_boxes(pixels, boxes, labels=None):
    from PIL import Image, ImageDraw, ImageFont

    im = Image.fromarray(pixels)
    draw, font = ImageDraw.Draw(im), ImageFont.load_default()
    for i in range(boxes.shape[0]):
        left, top, right, bottom = boxes[i, 0], boxes[i, 1], boxes[i, 2], boxes[i, 3]
        draw.line([(left, top), (left, bottom), (right, bottom), (right, top), (left, top)], width=2, fill="Red")
        text = None if labels is None else labels[i]
        if text:
            _l, _t, _r, _b = font.getbbox(text)
            tw, th = _r - _l, _b - _t
            margin = np.ceil(0.05 * th)
            draw.rectangle([(left, bottom - th - 2 * margin), (left + tw, bottom)], fill="Red")
            draw.text((left + margin, bottom - th - margin), text, fill="black", font=font)
    return np.asarray(im)


def make_image(tensor, rescale=1, rois=None, labels=None):
    """``Summary.Image`` bytes of a uint8 ``(H, W, C)`` array; boxes and ``rescale != 1`` need ``pillow``."""
    height, width, channel = tensor.shape
    if rois is not None:
        tensor = _draw_boxes(tensor, rois, labels)
    if rescale != 1:
        from PIL import Image
        tensor = np.asarray(Image.fromarray(tensor).resize((int(width * rescale), int(height * rescale)),
                                                           Image.Resampling.LANCZOS))
    return _proto.image(height, width, channel, encode_png(tensor))


def audio(tag, tensor, sample_rate=44100):
    """A ``Summary`` with mono 16-bit WAV audio from samples in [-1, 1]."""
    array = make_np(tensor).squeeze()
    if abs(array).max() > 1:
        print("warning: audio amplitude out of range, auto clipped.")
        array = array.clip(-1, 1)
    if array.ndim != 1:
        raise AssertionError("input tensor should be 1 dimensional.")
    array = (array * np.iinfo(np.int16).max).astype("<i2")
    fio = io.BytesIO()
    with wave.open(fio, "wb") as wave_write:
        wave_write.setnchannels(1)
        wave_write.setsampwidth(2)
        wave_write.setframerate(sample_rate)
        wave_write.writeframes(array.tobytes())
    snd = _proto.audio(sample_rate, 1, array.shape[-1], fio.getvalue(), "audio/wav")
    return _proto.summary(_proto.summary_value(tag, audio=snd))


def custom_scalars(layout):
    """The custom-scalars plugin's ``Layout``: ``{category: {chart: ["Multiline"|"Margin", tags]}}``."""
    P = _proto
    categories = b""
    for title, charts in layout.items():
        body = P.f_bytes(1, title)
        for chart_name, (kind, tags) in charts.items():
            if kind == "Margin":
                if len(tags) != 3:
                    raise AssertionError("len(tags) != 3")
                series = P.f_bytes(1, tags[0]) + P.f_bytes(2, tags[1]) + P.f_bytes(3, tags[2])
                chart = P.f_bytes(1, chart_name) + P.f_message(3, P.f_message(1, series))
            else:
                chart = P.f_bytes(1, chart_name) + P.f_message(2, b"".join(P.f_bytes(1, t, True) for t in tags))
            body += P.f_message(2, chart)
        categories += P.f_message(2, body)
    proto = P.tensor("DT_STRING", shape=[], string_val=[categories])
    return P.summary(P.summary_value("custom_scalars__config__", tensor=proto,
                                     metadata=P.summary_metadata("custom_scalars")))


def text(tag, text):
    """A ``Summary`` with a string for the text plugin, under ``tag + "/text_summary"``."""
    proto = _proto.tensor("DT_STRING", shape=[1], string_val=[text.encode(encoding="utf_8")])
    return _proto.summary(_proto.summary_value(tag + "/text_summary", tensor=proto,
                                               metadata=_proto.summary_metadata("text")))


def _hparams_summary(tag, plugin_data):
    return _proto.summary(_proto.summary_value(tag, metadata=_proto.summary_metadata("hparams", plugin_data)))


def hparams(hparam_dict=None, metric_dict=None, hparam_domain_discrete=None):
    """The hparams plugin's three summaries: ``(experiment, session_start_info, session_end_info)``.

    As in PyTorch, ``bool`` values are logged as numbers (the ``int`` check comes first).
    """
    if not isinstance(hparam_dict, dict):
        logger.warning("parameter: hparam_dict should be a dictionary, nothing logged.")
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        logger.warning("parameter: metric_dict should be a dictionary, nothing logged.")
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    hparam_domain_discrete = hparam_domain_discrete or {}
    if not isinstance(hparam_domain_discrete, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for k, v in hparam_domain_discrete.items():
        if k not in hparam_dict or not isinstance(v, list) or not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same type as "
                            f"hparam_dict[{k}].")
    FLOAT64, STRING, BOOL = 3, 1, 2
    infos, values = [], []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        domain = hparam_domain_discrete.get(k)
        if isinstance(v, (int, float)):
            kind, v = FLOAT64, float(v)
            domain = None if domain is None else [float(d) for d in domain]
        elif isinstance(v, str):
            kind = STRING
        elif isinstance(v, bool):       # unreachable, as in PyTorch (bool is an int)
            kind = BOOL
        elif isinstance(v, ttorch.Tensor):
            kind, v, domain = FLOAT64, float(make_np(v).reshape(-1)[0]), None
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        values.append((k, _proto.struct_value(v)))
        infos.append(_proto.hparam_info(k, kind, domain))
    exp = _proto.hparams_plugin_data(experiment=_proto.experiment(infos, list(metric_dict)))
    ssi = _proto.hparams_plugin_data(session_start_info=_proto.session_start_info(values))
    sei = _proto.hparams_plugin_data(session_end_info=_proto.session_end_info(1))     # STATUS_SUCCESS
    return (_hparams_summary("_hparams_/experiment", exp), _hparams_summary("_hparams_/session_start_info", ssi),
            _hparams_summary("_hparams_/session_end_info", sei))


def _pr_summary(tag, data, num_thresholds):
    meta = _proto.summary_metadata("pr_curves", _proto.pr_curve_plugin_data(num_thresholds))
    proto = _proto.tensor("DT_FLOAT", shape=list(data.shape), float_val=data.reshape(-1).tolist())
    return _proto.summary(_proto.summary_value(tag, tensor=proto, metadata=meta))


def pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, num_thresholds=127, weights=None):
    """A PR-curve ``Summary`` from precomputed counts (a ``(6, num_thresholds)`` float tensor)."""
    num_thresholds = min(num_thresholds, 127)
    data = np.stack([make_np(a) for a in (tp, fp, tn, fn, precision, recall)])
    return _pr_summary(tag, data, num_thresholds)


def pr_curve(tag, labels, predictions, num_thresholds=127, weights=None):
    """A PR-curve ``Summary`` from binary labels and predicted probabilities."""
    num_thresholds = min(num_thresholds, 127)     # as PyTorch: larger values break the plugin
    data = compute_curve(labels, predictions, num_thresholds=num_thresholds, weights=weights)
    return _pr_summary(tag, data, num_thresholds)


def compute_curve(labels, predictions, num_thresholds=None, weights=None):
    """tp, fp, tn, fn, precision, recall at ``num_thresholds`` thresholds (TensorBoard's pr_curve)."""
    _MINIMUM_COUNT = 1e-7
    if weights is None:
        weights = 1.0
    bucket_indices = np.int32(np.floor(predictions * (num_thresholds - 1)))
    float_labels = labels.astype(np.float64)
    histogram_range = (0, num_thresholds - 1)
    tp_buckets, _ = np.histogram(bucket_indices, bins=num_thresholds, range=histogram_range,
                                 weights=float_labels * weights)
    fp_buckets, _ = np.histogram(bucket_indices, bins=num_thresholds, range=histogram_range,
                                 weights=(1.0 - float_labels) * weights)
    tp = np.cumsum(tp_buckets[::-1])[::-1]          # reverse cumulative sums
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(_MINIMUM_COUNT, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))
