"""Symbolics of ``ttorch.nn.functional``: linear and convolutions, normalizations, activations, pooling,
embedding, padding, resizing and attention (``scaled_dot_product_attention`` decomposed into MatMul/Softmax)."""
import math

import numpy as np

from .. import _dtype
from ._graph import Value, symbolic
from ._symbolic_tensor import out_dtype
from .errors import UnsupportedOperatorError


def _tuple(v, n):
    return [int(x) for x in v] if isinstance(v, (list, tuple)) else [int(v)] * n


@symbolic("linear")
def linear(g, input, weight, bias=None):
    if input.rank == 2 and bias is not None:
        return g.op("Gemm", input, weight, bias, transB=1)
    y = g.op("MatMul", input, g.op("Transpose", weight, perm=[1, 0]) if weight.rank == 2 else weight)
    return y if bias is None else g.op("Add", y, bias)


def _conv_pads(padding, kernel, dilation, n):
    if padding == "valid":
        return [0] * 2 * n
    if padding == "same":           # PyTorch puts the odd extra element at the end
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    p = _tuple(padding, n)
    return p + p


def _conv(n):
    def fn(g, input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        kernel = list(weight.shape[2:])
        dil = _tuple(dilation, n)
        return g.op("Conv", input, weight, bias, kernel_shape=kernel, strides=_tuple(stride, n),
                    pads=_conv_pads(padding, kernel, dil, n), dilations=dil, group=int(groups))
    return fn


def _conv_transpose(n):
    def fn(g, input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        p = _tuple(padding, n)
        return g.op("ConvTranspose", input, weight, bias, kernel_shape=list(weight.shape[2:]),
                    strides=_tuple(stride, n), pads=p + p, dilations=_tuple(dilation, n), group=int(groups),
                    output_padding=_tuple(output_padding, n))
    return fn


for _n in (1, 2, 3):
    symbolic(f"conv{_n}d")(_conv(_n))
    symbolic(f"conv_transpose{_n}d")(_conv_transpose(_n))


# ---------------------------------------------------------------------------------------- normalization
def _channel_param(g, p, c, value, dtype):
    return p if p is not None else g.const(np.full((c,), value), dtype)


def _moments(g, x, axes):
    mean = g.reduce("ReduceMean", x, axes, True)
    d = g.op("Sub", x, mean)
    return d, g.reduce("ReduceMean", g.op("Mul", d, d), axes, True)


def _bcast(g, p, rank):
    """A per-channel (C,) parameter shaped (C, 1, ..., 1) to broadcast against (N, C, ...)."""
    return p if rank <= 2 else g.unsqueeze(p, range(1, rank - 1))


@symbolic("batch_norm")
def batch_norm(g, input, running_mean=None, running_var=None, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, cudnn_enabled=None):
    c, dt = input.shape[1], input.dtype
    w, b = _channel_param(g, weight, c, 1.0, dt), _channel_param(g, bias, c, 0.0, dt)
    if training or running_mean is None:      # batch statistics (biased variance), running stats not written
        d, v = _moments(g, input, [0] + list(range(2, input.rank)))
        y = g.op("Div", d, g.op("Sqrt", g.op("Add", v, g.const(eps, dt))))
        return g.op("Add", g.op("Mul", y, _bcast(g, w, input.rank)), _bcast(g, b, input.rank))
    return g.op("BatchNormalization", input, w, b, running_mean, running_var, epsilon=float(eps))


@symbolic("layer_norm")
def layer_norm(g, input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=None):
    shape = _tuple(normalized_shape, 1)
    axis = input.rank - len(shape)
    if g.opset >= 17:
        w = weight if weight is not None else g.const(np.ones(shape), input.dtype)
        return g.op("LayerNormalization", input, w, bias, axis=axis, epsilon=float(eps))
    d, v = _moments(g, input, list(range(axis, input.rank)))
    y = g.op("Div", d, g.op("Sqrt", g.op("Add", v, g.const(eps, input.dtype))))
    y = y if weight is None else g.op("Mul", y, weight)
    return y if bias is None else g.op("Add", y, bias)


@symbolic("group_norm")
def group_norm(g, input, num_groups, weight=None, bias=None, eps=1e-5):
    grouped = g.op("Reshape", input, g.int_list([0, int(num_groups), -1]))      # (N, G, C/G * spatial)
    d, v = _moments(g, grouped, [2])
    y = g.op("Div", d, g.op("Sqrt", g.op("Add", v, g.const(eps, input.dtype))))
    y = g.op("Reshape", y, g.shape(input))
    if weight is not None:
        y = g.op("Mul", y, _bcast(g, weight, input.rank))
    return y if bias is None else g.op("Add", y, _bcast(g, bias, input.rank))


@symbolic("instance_norm")
def instance_norm(g, input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5, cudnn_enabled=None):
    if not use_input_stats:
        return batch_norm(g, input, running_mean, running_var, weight, bias, False, momentum, eps)
    c, dt = input.shape[1], input.dtype
    return g.op("InstanceNormalization", input, _channel_param(g, weight, c, 1.0, dt),
                _channel_param(g, bias, c, 0.0, dt), epsilon=float(eps))


@symbolic("normalize")
def normalize(g, input, p=2.0, dim=1, eps=1e-12, out=None):
    if p not in (1, 2):
        raise UnsupportedOperatorError("aten::normalize (p other than 1 or 2)", g.opset, None)
    norm = g.reduce("ReduceL2" if p == 2 else "ReduceL1", input, [dim % input.rank], True)
    return g.op("Div", input, g.op("Max", norm, g.const(eps, input.dtype)))


# ---------------------------------------------------------------------------------------- activations
@symbolic("relu6")
def relu6(g, input, inplace=False):
    return g.op("Clip", input, g.const(0.0, input.dtype), g.const(6.0, input.dtype))


@symbolic("hardtanh")
def hardtanh(g, input, min_val=-1.0, max_val=1.0, inplace=False):
    return g.op("Clip", input, g.const(min_val, input.dtype), g.const(max_val, input.dtype))


@symbolic("leaky_relu")
def leaky_relu(g, input, negative_slope=0.01, inplace=False):
    return g.op("LeakyRelu", input, alpha=float(negative_slope))


@symbolic("gelu")
def gelu(g, input, approximate="none"):
    dt = input.dtype
    if approximate == "tanh":
        inner = g.op("Add", input, g.op("Mul", g.op("Mul", g.op("Mul", input, input), input), g.const(0.044715, dt)))
        t = g.op("Tanh", g.op("Mul", inner, g.const(math.sqrt(2 / math.pi), dt)))
    else:
        t = g.op("Erf", g.op("Mul", input, g.const(1 / math.sqrt(2), dt)))
    return g.op("Mul", g.op("Mul", input, g.const(0.5, dt)), g.op("Add", t, g.const(1.0, dt)))


@symbolic("silu")
def silu(g, input, inplace=False):
    return g.op("Mul", input, g.op("Sigmoid", input))


@symbolic("mish")
def mish(g, input, inplace=False):
    return g.op("Mul", input, g.op("Tanh", g.op("Softplus", input)))


@symbolic("elu")
def elu(g, input, alpha=1.0, inplace=False):
    return g.op("Elu", input, alpha=float(alpha))


@symbolic("celu")
def celu(g, input, alpha=1.0, inplace=False):
    return g.op("Celu", input, alpha=float(alpha))


@symbolic("selu")
def selu(g, input, inplace=False):
    return g.op("Selu", input)


@symbolic("hardsigmoid")
def hardsigmoid(g, input, inplace=False):
    return g.op("HardSigmoid", input, alpha=1 / 6, beta=0.5)


@symbolic("hardswish")
def hardswish(g, input, inplace=False):
    return g.op("HardSwish", input) if g.opset >= 14 else g.op("Mul", input, hardsigmoid(g, input))


@symbolic("softplus")
def softplus(g, input, beta=1.0, threshold=20.0):
    if beta == 1:
        return g.op("Softplus", input)
    b = g.const(beta, input.dtype)
    return g.op("Div", g.op("Softplus", g.op("Mul", input, b)), b)


@symbolic("logsigmoid")
def logsigmoid(g, input):
    return g.op("Neg", g.op("Softplus", g.op("Neg", input)))


@symbolic("softsign")
def softsign(g, input):
    return g.op("Softsign", input)


@symbolic("tanhshrink")
def tanhshrink(g, input):
    return g.op("Sub", input, g.op("Tanh", input))


@symbolic("prelu")
def prelu(g, input, weight):
    return g.op("PRelu", input, _bcast(g, weight, input.rank) if weight.shape != (1,) else weight)


@symbolic("glu")
def glu(g, input, dim=-1):
    half = input.shape[dim] // 2
    a, b = g.op("Split", input, g.const(np.asarray([half, half], np.int64)), outputs=2, axis=dim)
    return g.op("Mul", a, g.op("Sigmoid", b))


def _softmax(onnx_op):
    def fn(g, input, dim=None, dtype=None, **_):
        if dim is None:                 # PyTorch's legacy implicit dim
            dim = 0 if input.rank in (0, 1, 3) else 1
        return g.op(onnx_op, g.cast(input, out_dtype(g)), axis=int(dim))
    return fn


symbolic("softmax")(_softmax("Softmax"))
symbolic("log_softmax")(_softmax("LogSoftmax"))


@symbolic("dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d", "dropout3d")
def dropout(g, input, p=0.5, training=True, inplace=False, train=None):
    training = training if train is None else train
    if not training or p == 0:
        return input
    return g.op("Dropout", input, g.const(float(p), input.dtype), g.const(np.asarray(True)))


# ---------------------------------------------------------------------------------------- pooling
def _pool_pads(padding, n):
    p = _tuple(padding, n)
    return p + p


def _max_pool(n):
    def fn(g, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        if return_indices:
            raise UnsupportedOperatorError(f"aten::max_pool{n}d_with_indices", g.opset, None)
        k = _tuple(kernel_size, n)
        s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else _tuple(stride, n)
        return g.op("MaxPool", input, kernel_shape=k, strides=s, pads=_pool_pads(padding, n),
                    dilations=_tuple(dilation, n), ceil_mode=int(bool(ceil_mode)))
    return fn


def _avg_pool(n):
    def fn(g, input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
           divisor_override=None):
        if divisor_override is not None:
            raise UnsupportedOperatorError(f"aten::avg_pool{n}d (divisor_override)", g.opset, None)
        k = _tuple(kernel_size, n)
        s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else _tuple(stride, n)
        return g.op("AveragePool", input, kernel_shape=k, strides=s, pads=_pool_pads(padding, n),
                    ceil_mode=int(bool(ceil_mode)), count_include_pad=int(bool(count_include_pad)))
    return fn


def _adaptive(n, kind):
    def fn(g, input, output_size, return_indices=False):
        if return_indices:
            raise UnsupportedOperatorError(f"aten::adaptive_max_pool{n}d (return_indices)", g.opset, None)
        spatial = list(input.shape[-n:])
        out = [s if o is None else int(o) for o, s in zip(_tuple(output_size, n) if output_size is not None
                                                            else [None] * n, spatial)] \
            if not isinstance(output_size, int) else [int(output_size)] * n
        if all(o == 1 for o in out):
            return g.op(f"Global{kind}Pool", input)
        if g.dynamic or any(s % o for s, o in zip(spatial, out)):
            raise UnsupportedOperatorError(f"aten::adaptive_{kind.lower()}_pool{n}d (output size {out} not "
                                           f"dividing input size {spatial})", g.opset, None)
        k = [s // o for s, o in zip(spatial, out)]
        return g.op(f"{kind}Pool", input, kernel_shape=k, strides=k)
    return fn


for _n in (1, 2, 3):
    symbolic(f"max_pool{_n}d")(_max_pool(_n))
    symbolic(f"avg_pool{_n}d")(_avg_pool(_n))
    symbolic(f"adaptive_avg_pool{_n}d")(_adaptive(_n, "Average"))
    symbolic(f"adaptive_max_pool{_n}d")(_adaptive(_n, "Max"))


# ---------------------------------------------------------------------------------------- embedding, padding, resizing
@symbolic("embedding")
def embedding(g, input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    if max_norm is not None:
        raise UnsupportedOperatorError("aten::embedding_renorm", g.opset, None)
    return g.op("Gather", weight, g.cast(input, _dtype.int64), axis=0)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@symbolic("pad")
def pad(g, input, pad, mode="constant", value=None):
    if mode == "circular" and g.opset < 19:
        raise UnsupportedOperatorError("aten::pad (circular)", g.opset, 19)
    r, n = input.rank, len(pad) // 2
    begin, end = [0] * r, [0] * r
    for i in range(n):          # PyTorch lists (begin, end) pairs from the last dim backwards
        begin[r - 1 - i], end[r - 1 - i] = pad[2 * i], pad[2 * i + 1]
    cv = g.const(0.0 if value is None else value, input.dtype) if mode == "constant" else None
    return g.op("Pad", input, g.int_list(begin + end), cv, mode=_PAD_MODES[mode])


@symbolic("interpolate", "upsample")
def interpolate(g, input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    n = input.rank - 2
    if mode == "nearest":
        attrs = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    elif mode in ("linear", "bilinear", "trilinear"):
        attrs = {"mode": "linear", "coordinate_transformation_mode":
                 "align_corners" if align_corners else "pytorch_half_pixel"}
    elif mode == "bicubic":
        attrs = {"mode": "cubic", "cubic_coeff_a": -0.75, "coordinate_transformation_mode":
                 "align_corners" if align_corners else "pytorch_half_pixel"}
    else:
        raise UnsupportedOperatorError(f"aten::upsample_{mode}", g.opset, None)
    if size is not None or recompute_scale_factor:
        # sizes may be read from a dynamic shape (``size=x.shape[-2:]``): Values then
        sizes = list(g.out.shape[2:]) if size is None else list(size) if isinstance(size, (list, tuple)) \
            else [size] * n
        full = g.op("Concat", g.shape(input, 0, 2), g.int_list(sizes), axis=0)
        return g.op("Resize", input, None, None, full, **attrs)
    scales = [1.0, 1.0] + [float(s) for s in (scale_factor if isinstance(scale_factor, (list, tuple))
                                              else [scale_factor] * n)]
    return g.op("Resize", input, None, g.const(np.asarray(scales, np.float32)), **attrs)


@symbolic("pixel_shuffle")
def pixel_shuffle(g, input, upscale_factor):
    return g.op("DepthToSpace", input, blocksize=int(upscale_factor), mode="CRD")


# ---------------------------------------------------------------------------------------- attention
@symbolic("scaled_dot_product_attention")
def scaled_dot_product_attention(g, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    dt = query.dtype
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]

        def repeat_heads(x):        # (..., Hk, S, E) -> (..., Hk * rep, S, E), each head repeated in place
            y = g.unsqueeze(x, [x.rank - 2])
            tiles = [1] * (x.rank - 2) + [rep, 1, 1]
            y = g.op("Tile", y, g.int_list(tiles))
            return g.op("Reshape", y, g.int_list([0] * (x.rank - 3) + [-1, g.dim(x, -2), x.shape[-1]]))
        key, value = repeat_heads(key), repeat_heads(value)
    k_t = g.op("Transpose", key, perm=list(range(key.rank - 2)) + [key.rank - 1, key.rank - 2])
    scores = g.op("Mul", g.op("MatMul", query, k_t), g.const(scale, dt))          # (..., L, S)
    neg_inf = g.const(-np.inf, dt)
    if is_causal:
        ones = g.op("ConstantOfShape", g.int_list([g.dim(query, -2), g.dim(key, -2)]),
                    value=np.asarray([1], np.int64))
        keep = g.cast(Value(g.op("Trilu", ones, upper=0).name, _dtype.int64), _dtype.bool)
        scores = g.op("Where", keep, scores, neg_inf)
    if attn_mask is not None:
        if attn_mask.dtype == _dtype.bool:
            scores = g.op("Where", attn_mask, scores, neg_inf)
        else:
            scores = g.op("Add", scores, g.cast(attn_mask, dt))
    return g.op("MatMul", g.op("Softmax", scores, axis=-1), value)


@symbolic("rms_norm")
def rms_norm(g, input, normalized_shape, weight=None, eps=None):
    dt = input.dtype
    eps = float(np.finfo(np.float32 if dt != _dtype.float64 else np.float64).eps) if eps is None else eps
    axes = list(range(input.rank - len(_tuple(normalized_shape, 1)), input.rank))
    ms = g.reduce("ReduceMean", g.op("Mul", input, input), axes, True)
    y = g.op("Div", input, g.op("Sqrt", g.op("Add", ms, g.const(eps, dt))))
    return y if weight is None else g.op("Mul", y, weight)
