"""How ttorch's ops map to the ATen calls PyTorch makes for the same work, for ``FlopCounterMode``.

``_TO_ATEN[name](args, kwargs, out)`` -> ``[(packet, args, kwargs, out), ...]``: the ATen call(s) of PyTorch
doing what the ttorch op ``name`` called with ``args`` did: ``linear`` is PyTorch's addmm (a bias and a
contiguous input) or its ``matmul``; ``matmul`` is dot, mv, mm (the batch folded into rows, by PyTorch's
``should_fold``) or bmm; ``conv2d_input_grad``/``conv2d_weight_grad`` are the halves of
``convolution_backward`` (in a backward pass; a transposed convolution's forward otherwise); attention is
``_scaled_dot_product_flash_attention`` (``..._efficient_...`` with a mask). Operands may be given as shapes.
"""
from math import prod

import numpy as np

from ..autograd import engine as _engine
from ..ops._aten import aten

__all__ = []

def _same(packet):
    return lambda args, kwargs, out: [(packet, args, kwargs, out)]


def _should_fold(a, b):
    """PyTorch's ``should_fold`` for ``matmul(a, b)``, operands as (shape, strides, requires_grad): whether
    the larger operand (>= 3-D) folds into a matrix, for one mm or mv, rather than a bmm."""
    larger = len(a[0]) >= len(b[0])
    if larger:
        shape, st = a[0], a[1]
    else:                                       # the other one, transposed
        shape, st = b[0][:-2] + (b[0][-1], b[0][-2]), b[1][:-2] + (b[1][-1], b[1][-2])
    if not (len(shape) >= 3 and len((b if larger else a)[0]) <= 2):
        return False
    if (b if larger else a)[2]:     # the smaller one requires grad: fold (a smaller tensor in the backward)
        return True
    if len(a[0]) == 2:
        return False
    if prod(shape) == 0:
        return True
    return all(st[i] == st[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def _matmul_calls(a, b, out):
    """PyTorch's ``matmul`` of operands given as (shape, strides, requires_grad): dot, mv, mm or bmm."""
    sa, sb = tuple(a[0]), tuple(b[0])
    da, db = len(sa), len(sb)
    if da == 1 and db == 1:
        return [(aten.dot, (sa, sb), {}, out)]
    if da == 2 and db == 1:
        return [(aten.mv, (sa, sb), {}, out)]
    if da <= 2 and db == 2:
        a2 = sa if da == 2 else (1, sa[0])
        return [(aten.mm, (a2, sb), {}, (a2[0], sb[1]))]
    if _should_fold(a, b):
        if da >= db:        # the rows of a's batch, times b
            rows = prod(sa[:-1])
            if db == 1:
                return [(aten.mv, ((rows, sa[-1]), sb), {}, (rows,))]
            return [(aten.mm, ((rows, sa[-1]), sb), {}, (rows, sb[1]))]
        rows = prod(sb[:-2]) * sb[-1]       # b^T's rows, times a^T
        if da == 1:
            return [(aten.mv, ((rows, sb[-2]), sa), {}, (rows,))]
        return [(aten.mm, ((rows, sb[-2]), (sa[1], sa[0])), {}, (rows, sa[0]))]
    m = sa[-2] if da >= 2 else 1
    k, n = sa[-1], (sb[-1] if db >= 2 else 1)
    batch = np.broadcast_shapes(sa[:-2], sb[:-2] if db >= 2 else ())
    nb = prod(batch)
    return [(aten.bmm, ((nb, m, k), (nb, k, n)), {}, (nb, m, n))]


def _operand(t):
    return t.shape, t.stride(), t.requires_grad


def _matmul(args, kwargs, out):
    return _matmul_calls(_operand(args[0]), _operand(args[1]), out)


def _linear(args, kwargs, out):
    """PyTorch's ``linear``: addmm with a bias (the batch of a contiguous input folded into rows), else
    ``matmul(input, weight.t())``."""
    x, w, bias = args[:3]
    if bias is not None and (x.ndim <= 2 or x.is_contiguous()):
        rows = prod(x.shape[:-1])
        return [(aten.addmm, (bias.shape, (rows, x.shape[-1]), (w.shape[1], w.shape[0])), {}, (rows, w.shape[0]))]
    wt = ((w.shape[1], w.shape[0]), (w.stride()[1], w.stride()[0]), w.requires_grad)
    return _matmul_calls(_operand(x), wt, out)


def _geo(kw):
    return kw.get("stride", (1, 1)), kw.get("padding", (0, 0)), kw.get("dilation", (1, 1)), kw.get("groups", 1)


def _conv2d(args, kwargs, out):
    x, w, bias = args[:3]
    stride, padding, dilation, groups = _geo(kwargs)
    if _engine.TASKS:   # the grad input of a transposed convolution (conv2d_input_grad's backward)
        return [(aten.convolution_backward, (x, out.shape, w, None, stride, padding, dilation, True, (0, 0), groups,
                                             (True, False, False)), {}, (out, None, None))]
    return [(aten.convolution, (x, w, bias, stride, padding, dilation, False, (0, 0), groups), {}, out)]


def _conv_input(args, kwargs, out):
    dy, w, bias = args[:3]
    stride, padding, dilation, groups = _geo(kwargs)
    if _engine.TASKS:   # conv2d's grad input
        return [(aten.convolution_backward, (dy, out.shape, w, None, stride, padding, dilation, False, (0, 0), groups,
                                             (True, False, False)), {}, (out, None, None))]
    # conv_transpose2d's forward (its output padding is not part of the count)
    return [(aten.convolution, (dy, w, bias, stride, padding, dilation, True, (0, 0), groups), {}, out)]


def _conv_weight(args, kwargs, out):
    # conv2d's grad weight; in a transposed conv's backward the arguments come swapped, which the
    # untransposed formula counts the same as PyTorch's transposed one
    x, dy = args[:2]
    stride, padding, dilation, groups = _geo(kwargs)
    return [(aten.convolution_backward, (dy, x, out.shape, None, stride, padding, dilation, False, (0, 0), groups,
                                         (False, True, False)), {}, (None, out, None))]


def _attention(args, kwargs, out):
    q, k, v, mask = args[:4]
    packet = aten._scaled_dot_product_flash_attention if mask is None else \
        aten._scaled_dot_product_efficient_attention
    return [(packet, (q, k, v), {}, out)]


def _attention_bw(args, kwargs, out):
    g, _glse, q, k, v, _o, _lse, mask = args[:8]
    packet = aten._scaled_dot_product_flash_attention_backward if mask is None else \
        aten._scaled_dot_product_efficient_attention_backward
    return [(packet, (g, q, k, v), {}, out)]


def _scaled_mm(args, kwargs, out):
    return [(aten._scaled_mm, tuple(args[:5]), {}, out)]


_TO_ATEN = {"mm": _same(aten.mm), "bmm": _same(aten.bmm), "addmm": _same(aten.addmm),
            "baddbmm": _same(aten.baddbmm), "matmul": _matmul, "linear": _linear, "linear_act": _linear,
            "conv2d": _conv2d, "conv2d_input_grad": _conv_input, "conv2d_weight_grad": _conv_weight,
            "flash_attention": _attention, "flash_attention_backward": _attention_bw, "scaled_mm": _scaled_mm}
