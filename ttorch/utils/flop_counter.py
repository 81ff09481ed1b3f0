"""``FlopCounterMode``: count the FLOPs of matrix products, convolutions and attention, per module, as
PyTorch's ``torch.utils.flop_counter`` counts them (its formulas, its keys, its table).

PyTorch counts ATen ops (``aten.mm``, ``aten.addmm``, ``aten.bmm``, ``aten.convolution``,
``aten.convolution_backward``, ``aten._scaled_dot_product_flash_attention``...). ttorch's ops decompose
differently (``F.linear`` is one ``linear`` op, ``matmul`` one op for every rank, a conv backward two ops),
so each such ttorch op is first translated into the ATen call(s) PyTorch makes for the same work
(``_flop_aten.py``): totals and keys come out as PyTorch's for the same model, and a formula registered for an
ATen op (``register_flop_formula``, ``custom_mapping``) applies to ttorch's ops doing that work.

Deliberate differences: a translated call gives its formula shapes (tuples), not tensors (``get_raw``
formulas see the op's own tensors where no translation is needed); attention is counted as PyTorch's
cuda path counts it (``_scaled_dot_product_flash_attention``, or ``..._efficient_...`` with a mask) on
both devices, where PyTorch's cpu kernel is not counted. Work that ttorch composes from products while
PyTorch runs an uncounted kernel is counted (RNN/LSTM/GRU layers, ``Bilinear``, the outer products of a
1-D ``matmul``'s backward), and ``einsum`` counts as the mm/bmm its contraction runs (PyTorch: bmm). The
table is laid out here in tabulate's "simple" format with the module indentation kept (no ``tabulate``
dependency; tabulate 0.10 strips that indentation despite PyTorch's PRESERVE_WHITESPACE).
"""
import warnings
from collections import defaultdict
from functools import wraps
from math import prod

from .._tensor import Tensor
from ..library._ops import OpOverloadPacket as _LibPacket
from ..ops._aten import aten, OpOverload as _AtenOverload
from ._flop_aten import _TO_ATEN
from ._python_dispatch import TorchDispatchMode
from .module_tracker import ModuleTracker

__all__ = ["FlopCounterMode", "register_flop_formula"]


def get_shape(i):
    return i.shape if isinstance(i, Tensor) else i


def _tree_map(fn, x):
    if type(x) in (tuple, list):
        return type(x)(_tree_map(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: _tree_map(fn, v) for k, v in x.items()}
    return fn(x)


flop_registry = {}


def shape_wrapper(f):
    @wraps(f)
    def nf(*args, out_val=None, **kwargs):
        args, kwargs, out_shape = _tree_map(get_shape, (args, kwargs, out_val))
        return f(*args, out_shape=out_shape, **kwargs)
    return nf


def register_flop_formula(targets, get_raw=False):
    """Register ``formula(*shapes, out_shape=None, **kwargs) -> int`` for ``targets`` (an
    ``OpOverloadPacket`` such as ``ttorch.ops.aten.mm`` or ``ttorch.ops.mylib.foo``, or a list of them).
    With ``get_raw`` the formula gets the tensors themselves and ``out_val``. Used as a decorator."""
    def register_fun(flop_formula):
        if not get_raw:
            flop_formula = shape_wrapper(flop_formula)

        def register(target):
            if not isinstance(target, _LibPacket):
                raise ValueError(f"register_flop_formula(targets): expected each target to be OpOverloadPacket "
                                 f"(i.e. torch.ops.mylib.foo), JitFunction, or HigherOrderOperator, got {target} "
                                 f"which is of type {type(target)}")
            if target in flop_registry:
                raise RuntimeError(f"duplicate registrations for {target}")
            flop_registry[target] = flop_formula

        for t in (targets if isinstance(targets, (list, tuple)) else [targets]):
            register(t)
        return flop_formula
    return register_fun


# ------------------------------------------------------------------------------ PyTorch's formulas
@register_flop_formula(aten.mm)
def mm_flop(a_shape, b_shape, *args, out_shape=None, **kwargs):
    """Count flops for matmul."""
    m, k = a_shape
    k2, n = b_shape
    if k != k2:
        raise AssertionError(f"matmul: inner dimensions must match (k == k2), got {k} and {k2}")
    return m * n * 2 * k        # (2k - 1 to the letter: PyTorch counts 2k)


@register_flop_formula(aten.addmm)
def addmm_flop(self_shape, a_shape, b_shape, out_shape=None, **kwargs):
    """Count flops for addmm."""
    return mm_flop(a_shape, b_shape)


@register_flop_formula(aten.bmm)
def bmm_flop(a_shape, b_shape, out_shape=None, **kwargs):
    """Count flops for the bmm operation."""
    b, m, k = a_shape
    b2, k2, n = b_shape
    if b != b2:
        raise AssertionError(f"bmm: batch dimensions must match (b == b2), got {b} and {b2}")
    if k != k2:
        raise AssertionError(f"bmm: inner dimensions must match (k == k2), got {k} and {k2}")
    return b * m * n * 2 * k


@register_flop_formula(aten.baddbmm)
def baddbmm_flop(self_shape, a_shape, b_shape, out_shape=None, **kwargs):
    """Count flops for the baddbmm operation."""
    return bmm_flop(a_shape, b_shape)


@register_flop_formula(aten._scaled_mm)
def _scaled_mm_flop(a_shape, b_shape, scale_a_shape, scale_b_shape, bias_shape=None, scale_result_shape=None,
                    out_dtype=None, use_fast_accum=False, out_shape=None, **kwargs):
    """Count flops for _scaled_mm."""
    return mm_flop(a_shape, b_shape)


def conv_flop_count(x_shape, w_shape, out_shape, transposed=False):
    """Multiplications and additions of a convolution (bias ignored): for each point of the output (of the
    input, when transposed) a filter's worth, times batch, output and input channels, times 2."""
    batch_size = x_shape[0]
    conv_shape = (x_shape if transposed else out_shape)[2:]
    c_out, c_in, *filter_size = w_shape
    return prod(conv_shape) * prod(filter_size) * batch_size * c_out * c_in * 2


@register_flop_formula([aten.convolution, aten._convolution, aten.cudnn_convolution, aten._slow_conv2d_forward,
                        aten.convolution_overrideable])
def conv_flop(x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed, *args, out_shape=None, **kwargs):
    """Count flops for convolution."""
    return conv_flop_count(x_shape, w_shape, out_shape, transposed=transposed)


@register_flop_formula(aten.convolution_backward)
def conv_backward_flop(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                       _output_padding, _groups, output_mask, out_shape, **kwargs):
    """grad input as conv_transpose(grad_out, weight); grad weight as conv(input, grad_out) (transposed:
    conv(grad_out, input)), batch and channel dims swapped."""
    def t(shape):
        return [shape[1], shape[0]] + list(shape[2:])
    flop_count = 0
    if output_mask[0]:
        flop_count += conv_flop_count(grad_out_shape, w_shape, get_shape(out_shape[0]), not transposed)
    if output_mask[1]:
        grad_weight_shape = get_shape(out_shape[1])
        if transposed:
            flop_count += conv_flop_count(t(grad_out_shape), t(x_shape), t(grad_weight_shape), transposed=False)
        else:
            flop_count += conv_flop_count(t(x_shape), t(grad_out_shape), t(grad_weight_shape), transposed=False)
    return flop_count


def sdpa_flop_count(query_shape, key_shape, value_shape):
    """Flops of q @ k^T and scores @ v (GQA: key/value heads broadcast to the query's)."""
    b, h_q, s_q, d_q = query_shape
    _b2, h_kv, s_k, _d2 = key_shape
    _b3, _h3, _s3, d_v = value_shape
    if not (b == _b2 == _b3 and h_kv == _h3 and d_q == _d2 and s_k == _s3):
        raise AssertionError(f"sdpa_flop_count: query/key/value shapes are incompatible: q={query_shape}, "
                             f"k={key_shape}, v={value_shape}")
    if h_q < h_kv or h_q % h_kv != 0:
        raise AssertionError(f"sdpa_flop_count: query heads ({h_q}) must be a multiple of key/value heads ({h_kv})")
    return bmm_flop((b * h_q, s_q, d_q), (b * h_q, d_q, s_k)) + bmm_flop((b * h_q, s_q, s_k), (b * h_q, s_k, d_v))


@register_flop_formula([aten._scaled_dot_product_efficient_attention, aten._scaled_dot_product_flash_attention,
                        aten._scaled_dot_product_cudnn_attention])
def sdpa_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
    """Count flops for self-attention (a causal mask is not accounted for, as in PyTorch)."""
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape):
    """Flops of attention's backward: the scores recomputed, then the four products of the gradients."""
    b, h_q, s_q, d_q = query_shape
    _b2, h_kv, s_k, _d2 = key_shape
    _b3, _h3, _s3, d_v = value_shape
    _b4, _h4, _s4, _d4 = grad_out_shape
    if not (b == _b2 == _b3 == _b4 and h_kv == _h3 and h_q == _h4):
        raise AssertionError("sdpa_backward_flop_count: batch/heads mismatch among tensors")
    if h_q < h_kv or h_q % h_kv != 0:
        raise AssertionError(f"sdpa_backward_flop_count: query heads ({h_q}) must be a multiple of key/value heads "
                             f"({h_kv})")
    if not (d_q == _d2 and d_v == _d4 and s_k == _s3 and s_q == _s4):
        raise AssertionError("sdpa_backward_flop_count: grad_out/value/key/query shapes are incompatible")
    bh = b * h_q
    return (bmm_flop((bh, s_q, d_q), (bh, d_q, s_k)) + bmm_flop((bh, s_q, d_v), (bh, d_v, s_k))
            + bmm_flop((bh, s_k, s_q), (bh, s_q, d_v)) + bmm_flop((bh, s_q, s_k), (bh, s_k, d_q))
            + bmm_flop((bh, d_q, s_q), (bh, s_q, s_k)))


@register_flop_formula([aten._scaled_dot_product_efficient_attention_backward,
                        aten._scaled_dot_product_flash_attention_backward,
                        aten._scaled_dot_product_cudnn_attention_backward])
def sdpa_backward_flop(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
    """Count flops for self-attention backward."""
    return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


_BUILTIN = set(flop_registry)


# ------------------------------------------------------------------------------ the table
suffixes = ["", "K", "M", "B", "T"]


def get_suffix_str(number):
    # 1.01B is shown as 1001M: one digit of overflow before the next suffix
    index = max(0, min(len(suffixes) - 1, (len(str(number)) - 2) // 3))
    return suffixes[index]


def convert_num_with_suffix(number, suffix):
    index = suffixes.index(suffix)
    return f"{number / 1000 ** index:.3f}" + suffixes[index]


def convert_to_percent_str(num, denom):
    if denom == 0:
        return "0%"
    return f"{num / denom:.2%}"


def _number(c):
    try:
        return float(c)
    except ValueError:
        return None


def _simple_table(rows, headers, colalign):
    """tabulate's "simple" format (PRESERVE_WHITESPACE, headers at least 2 wider than their text; a column
    of numbers written as strings, "72.000", shown in its "g" format, "72")."""
    rows = [list(r) for r in rows]
    for j in range(len(headers)):
        nums = [_number(r[j]) for r in rows]
        if all(v is not None for v in nums):
            for r, v in zip(rows, nums):
                r[j] = format(v, "g")
    cols = list(zip(headers, *rows))
    widths = [max([len(h) + 2] + [len(str(c)) for c in col[1:]]) for h, col in zip(headers, cols)]

    def line(cells):
        return "  ".join(str(c).ljust(w) if al == "left" else str(c).rjust(w)
                         for c, w, al in zip(cells, widths, colalign))
    return "\n".join([line(headers), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


# ------------------------------------------------------------------------------ the mode
class FlopCounterMode:
    """A context manager counting the FLOPs of the ops run inside it, per module (forward and backward).

    Args:
        mods: no longer needed (a warning says so, as in PyTorch).
        depth (int): how deep the module breakdown of the printed table goes.
        display (bool): print the table on exit.
        custom_mapping (dict): ``{packet: formula}`` used before the registered formulas.

    Example::

        >>> from ttorch.utils.flop_counter import FlopCounterMode
        >>> lin = ttorch.nn.Linear(4, 3)
        >>> with FlopCounterMode(display=False) as fc:
        ...     lin(ttorch.ones(2, 4)).sum().backward()
        >>> fc.get_total_flops(), fc.get_flop_counts()["Linear"]
        (96, {aten.addmm: 48, aten.mm: 48})
    """

    def __init__(self, mods=None, depth=2, display=True, custom_mapping=None):
        self.flop_counts = defaultdict(lambda: defaultdict(int))
        self.depth = depth
        self.display = display
        self.mode = None
        if custom_mapping is None:
            custom_mapping = {}
        if mods is not None:
            warnings.warn("mods argument is not needed anymore, you can stop passing it", stacklevel=2)
        self.flop_registry = {
            **flop_registry,
            **{k: v if getattr(v, "_get_raw", False) else shape_wrapper(v) for k, v in custom_mapping.items()}}
        # a formula for a translated ttorch op's own packet (aten.linear_act) takes precedence over the translation
        self._own = {k for k in self.flop_registry if k not in _BUILTIN}
        self.mod_tracker = ModuleTracker()

    def get_total_flops(self):
        return sum(self.flop_counts["Global"].values())

    def get_flop_counts(self):
        """``{module name: {packet: flops}}``: "Global" and each module by its path ("Model.layer1")."""
        return {k: dict(v) for k, v in self.flop_counts.items()}

    def get_table(self, depth=None):
        """The counts as a table down to ``depth`` module levels (the constructor's by default)."""
        if depth is None:
            depth = self.depth
        if depth is None:
            depth = 999999
        header = ["Module", "FLOP", "% Total"]
        values = []
        global_flops = self.get_total_flops()
        global_suffix = get_suffix_str(global_flops)
        is_global_subsumed = False

        def process_mod(mod_name, depth):
            nonlocal is_global_subsumed
            total_flops = sum(self.flop_counts[mod_name].values())
            is_global_subsumed |= total_flops >= global_flops
            padding = " " * depth
            rows = [[padding + mod_name, convert_num_with_suffix(total_flops, global_suffix),
                     convert_to_percent_str(total_flops, global_flops)]]
            for k, v in self.flop_counts[mod_name].items():
                rows.append([padding + " - " + str(k), convert_num_with_suffix(v, global_suffix),
                             convert_to_percent_str(v, global_flops)])
            return rows

        for mod in sorted(self.flop_counts.keys()):
            if mod == "Global":
                continue
            mod_depth = mod.count(".") + 1
            if mod_depth > depth:
                continue
            values.extend(process_mod(mod, mod_depth - 1))
        # "Global" only when some FLOPs are outside every module shown
        if "Global" in self.flop_counts and not is_global_subsumed:
            for value in values:
                value[0] = " " + value[0]
            values = process_mod("Global", 0) + values
        if len(values) == 0:
            values = [["Global", "0", "0%"]]
        return _simple_table(values, header, ("left", "right", "right"))

    # (not reentrant, as PyTorch's)
    def __enter__(self):
        self.flop_counts.clear()
        self.mod_tracker.__enter__()
        self.mode = _FlopCounterMode(self)
        self.mode.__enter__()
        return self

    def __exit__(self, *args):
        if self.mode is None:
            raise AssertionError("Internal error: FlopCounter.__exit__ called but mode is None")
        b = self.mode.__exit__(*args)
        self.mode = None
        self.mod_tracker.__exit__()
        if self.display:
            print(self.get_table(self.depth))
        return b

    def _count_flops(self, func_packet, out, args, kwargs):
        if func_packet in self.flop_registry:
            flop_count = self.flop_registry[func_packet](*args, **kwargs, out_val=out)
            for par in set(self.mod_tracker.parents):
                self.flop_counts[par][func_packet] += flop_count
        return out


class _FlopCounterMode(TorchDispatchMode):
    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs if kwargs else {}
        out = func(*args, **kwargs)
        packet = func.overloadpacket
        translate = _TO_ATEN.get(func._op.name) if isinstance(func, _AtenOverload) else None
        if translate is None or packet in self.counter._own:
            return self.counter._count_flops(packet, out, args, kwargs)
        for p, a, kw, o in translate(args, kwargs, out):
            self.counter._count_flops(p, o, a, kw)
        return out
