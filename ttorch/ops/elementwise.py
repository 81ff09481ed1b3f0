"""The one elementwise kernel template, its host launcher, and the op-family factories.

Every elementwise op is a ``@triton.jit`` function ``fn(x, [y, [z,]] p0, p1)`` passed to
``_ew_kernel`` as a constexpr; the template handles strided and broadcast operands (up to
rank 4 after merging dims, larger ranks loop on the host), Python scalars as operands,
dtype casts, strided outputs (so it is also the copy kernel) and any size. Adding an op is
a line in ``unary.py``/``binary.py``: a Triton function, a NumPy function, a backward rule.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as D, tune
from .._tensor import Tensor, _numel
from ..autograd import grad_mode
from ..cuda import _driver
from . import _launch
from ._launch import launch, launch_keyed, cdiv, next_pow2, SIMULATED
from . import _plan
from ._plan import plans_on

MAX_RANK = 4


@triton.jit
def _ew_apply(out_ptr, a_ptr, b_ptr, c_ptr, oo, oa, ob, oc, mask, p0, p1, FN: tl.constexpr, NIN: tl.constexpr,
              A_SCALAR: tl.constexpr, B_SCALAR: tl.constexpr, C_SCALAR: tl.constexpr, COMPUTE: tl.constexpr):
    """Load the operands at their offsets (a scalar operand arrives by value), apply ``FN``, store."""
    if A_SCALAR:
        a = tl.cast(a_ptr, COMPUTE)
    else:
        a = tl.load(a_ptr + oa, mask=mask).to(COMPUTE)
    if NIN == 1:
        r = FN(a, p0, p1)
    else:
        if B_SCALAR:
            b = tl.cast(b_ptr, COMPUTE)
        else:
            b = tl.load(b_ptr + ob, mask=mask).to(COMPUTE)
        if NIN == 2:
            r = FN(a, b, p0, p1)
        else:
            if C_SCALAR:
                c = tl.cast(c_ptr, COMPUTE)
            else:
                c = tl.load(c_ptr + oc, mask=mask).to(COMPUTE)
            r = FN(a, b, c, p0, p1)
    if out_ptr.dtype.element_ty == tl.bfloat16:
        # (through float32, as PyTorch's conversions to bfloat16 round: an int64 or float64 value rounds twice;
        # Triton's interpreter also stores a direct int/float64 -> bfloat16 cast as raw integer bits)
        r = r.to(tl.float32)
    tl.store(out_ptr + oo, r.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _ew_contig_kernel(out_ptr, a_ptr, b_ptr, c_ptr, n, p0, p1, FN: tl.constexpr, NIN: tl.constexpr,
                      A_SCALAR: tl.constexpr, B_SCALAR: tl.constexpr, C_SCALAR: tl.constexpr, COMPUTE: tl.constexpr,
                      BLOCK: tl.constexpr):
    """Every operand contiguous and of the output's shape: seven arguments, so a launch passes (and
    the launch fast path keys) a quarter of the strided kernel's 26."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    _ew_apply(out_ptr, a_ptr, b_ptr, c_ptr, offs, offs, offs, offs, offs < n, p0, p1, FN, NIN, A_SCALAR, B_SCALAR,
              C_SCALAR, COMPUTE)


@triton.jit
def unravel4(offs, S1, S2, S3):
    """Row-major coordinates (i0, i1, i2, i3) of flat positions ``offs`` in a (*, S1, S2, S3) grid."""
    i3 = offs % S3
    t = offs // S3
    i2 = t % S2
    t = t // S2
    return t // S1, t % S1, i2, i3


@triton.jit
def _ew_kernel(out_ptr, a_ptr, b_ptr, c_ptr, n, p0, p1, S1, S2, S3,
               so0, so1, so2, so3, sa0, sa1, sa2, sa3, sb0, sb1, sb2, sb3, sc0, sc1, sc2, sc3,
               FN: tl.constexpr, NIN: tl.constexpr, A_SCALAR: tl.constexpr, B_SCALAR: tl.constexpr,
               C_SCALAR: tl.constexpr, COMPUTE: tl.constexpr, BLOCK: tl.constexpr):
    """Any strides, up to four dims after merging (``ew_launch``); contiguous operands take
    ``_ew_contig_kernel``."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    i0, i1, i2, i3 = unravel4(offs, S1, S2, S3)
    oo = i0 * so0 + i1 * so1 + i2 * so2 + i3 * so3
    oa = i0 * sa0 + i1 * sa1 + i2 * sa2 + i3 * sa3
    ob = i0 * sb0 + i1 * sb1 + i2 * sb2 + i3 * sb3
    oc = i0 * sc0 + i1 * sc1 + i2 * sc2 + i3 * sc3
    _ew_apply(out_ptr, a_ptr, b_ptr, c_ptr, oo, oa, ob, oc, mask, p0, p1, FN, NIN, A_SCALAR, B_SCALAR, C_SCALAR,
              COMPUTE)


def ew_kernel_sig(contig, out_dtype):
    """``(kernel, signature)`` of the contiguous or the strided elementwise kernel, operand pointers
    left for the caller (a tensor's ``ptr(dtype)``, a scalar's ``fp32``/``i32``, or None)."""
    from ._aot import ptr
    sig = {"out_ptr": ptr(out_dtype), "n": "i32", "p0": "fp32", "p1": "fp32"}
    if contig:
        return _ew_contig_kernel, sig
    sig.update({"S1": "i32", "S2": "i32", "S3": "i32"})
    sig.update({f"s{p}{i}": "i64" for p in "oabc" for i in range(4)})
    return _ew_kernel, sig


# Functions too long for the usual 8 values a thread (digamma's and polygamma's series spilled on
# sm_90 in float64): fn -> (block, warps), whatever the tuner chose for the cheap ones
HEAVY = {}


def ew_specs(fn, nin, dtypes, out_dtype=None):
    """Ahead-of-time configurations of ``fn``'s elementwise kernels: per dtype, alternating the
    contiguous kernel and the strided one, with a scalar operand in the binary strided case."""
    from ._aot import KernelSpec, ptr
    specs = []
    for k, dt in enumerate(dtypes):
        contig = k % 2 == 0
        kernel, sig = ew_kernel_sig(contig, out_dtype or dt)
        block, warps = HEAVY.get(fn, (1024, 4))
        ce = {"FN": fn, "NIN": nin, "COMPUTE": _TL[D._compute_dtype(dt) if dt is not D.bool else D.int8],
              "BLOCK": block}
        scal = [False] * 3
        for i, name in enumerate(("a_ptr", "b_ptr", "c_ptr")):
            if i >= nin:
                ce[name] = None
            elif i == 1 and not contig:
                sig[name] = "fp32" if dt.is_floating_point else "i32"
                scal[i] = True
            else:
                sig[name] = ptr(dt)
        ce.update(A_SCALAR=scal[0], B_SCALAR=scal[1], C_SCALAR=scal[2])
        specs.append(KernelSpec(kernel, sig, ce, num_warps=warps,
                                label=f"{fn.__name__} {dt} {'contig' if contig else 'strided'}"))
    return specs


_TL = {D.float16: tl.float16, D.bfloat16: tl.bfloat16, D.float32: tl.float32, D.float64: tl.float64,
       D.int8: tl.int8, D.int16: tl.int16, D.int32: tl.int32, D.int64: tl.int64, D.uint8: tl.uint8,
       D.bool: tl.int1, D.uint16: tl.uint16, D.uint32: tl.uint32, D.uint64: tl.uint64}


def tl_dtype(d):
    return _TL[d]


try:  # NumPy >= 2 keeps its error state in a context variable: setting it directly is cheap,
    # np.errstate costs ~1.5 µs a call. Hot paths use ``np_errstate.set(NP_QUIET)``/``reset``.
    from numpy._core.umath import _extobj_contextvar as np_errstate, _make_extobj
    NP_QUIET = _make_extobj(all="ignore")
except ImportError:  # pragma: no cover - NumPy 1.x
    class _ErrState:
        """The same interface over ``np.seterr`` (NumPy 1.x has no context variable)."""

        @staticmethod
        def set(_):
            return np.seterr(all="ignore")

        @staticmethod
        def reset(old):
            np.seterr(**old)

    np_errstate, NP_QUIET = _ErrState(), None


def np_quiet(fn, *args):
    """``fn(*args)`` with NumPy's floating-point warnings off (PyTorch never warns on inf/nan)."""
    token = np_errstate.set(NP_QUIET)
    try:
        return fn(*args)
    finally:
        np_errstate.reset(token)


def broadcast_shapes(*shapes, op="broadcast"):
    """PyTorch's broadcasting of shapes; RuntimeError naming the op and shapes on a mismatch."""
    if len(shapes) == 1:
        return tuple(shapes[0])
    nd = max(len(s) for s in shapes)
    out = [1] * nd
    for s in shapes:
        for i, d in enumerate(s):
            j = nd - len(s) + i
            if out[j] == 1:
                out[j] = d
            elif d != 1 and d != out[j]:
                raise RuntimeError(f"{op}: The size of tensor a ({out[j]}) must match the size of tensor b ({d}) at "
                                   f"non-singleton dimension {j}; shapes " + ", ".join(str(list(x)) for x in shapes))
    return tuple(out)


def _bstrides(t, shape):
    """Strides of tensor ``t`` broadcast to ``shape`` (0 on broadcast dims)."""
    lead = len(shape) - t.ndim
    st = t.stride()
    return tuple(0 if i < lead or t._shape[i - lead] == 1 and shape[i] != 1 else st[i - lead]
                 for i in range(len(shape)))


def _collapse(shape, strides):
    """Drop size-1 dims and merge dims that are contiguous in every operand."""
    dims = [(s, [st[i] for st in strides]) for i, s in enumerate(shape) if s != 1]
    out = []
    for s, st in dims:
        if out:
            ps, pst = out[-1]
            if all(pst[k] == st[k] * s for k in range(len(st))):
                out[-1] = (ps * s, st)
                continue
        out.append((s, st))
    return [d[0] for d in out], [[d[1][k] for d in out] for k in range(len(strides))]


def _block(n):
    # The interpreter runs each program in Python: fewer, larger blocks are faster there.
    return min(next_pow2(n), 4096) if SIMULATED else 1024


# ------------------------------------------------------------------------------ tuning
# Tuned per (element size, contiguous or strided, size bucket): the block and the warps. Heuristic
# (untuned): 1024 elements and 4 warps a program. Small sizes are one bucket: their time is launch.
_EW_BLOCKS, _EW_WARPS = (512, 1024, 2048, 4096), (4, 8)
_FORCE = [None]     # a Config while the tuner times it


def _ew_config(itemsize, contig, n):
    """The tuned winner of this size's bucket, or None (the heuristic)."""
    w = (tune._winners if tune._winners is not None else tune._section()).get("elementwise")
    cfg = w.get(_ew_key(itemsize, contig, n)) if w is not None else None
    if tune._RECORDING[0] is not None:     # a call recorded for a plan (_plan.py) asks again when replayed
        tune._RECORDING[0].append((_ew_config, (itemsize, contig, n), cfg))
    return cfg


def _ew_key(itemsize, contig, n):
    return (itemsize, bool(contig), 1 << min(28, max(16, (n - 1).bit_length())))


def _ew_bench(cfg, dtype, contig, n):
    from .binary import _add
    from .creation import ones
    dt = getattr(D, dtype)
    x = ones((n,) if contig else (n, 2), dtype=dt, device="cuda")
    a = x if contig else x[:, 0]
    out = Tensor._empty((n,), dt, a.device)

    def run():
        _FORCE[0] = cfg
        try:
            ew_launch(_add, out, [a, a], dt, 1.0)
        finally:
            _FORCE[0] = None
    return run


def _ew_tiles(contig):
    """The (block, warps) the tuner may pick: the strided kernel's per-element sizes and strides take
    registers, so it keeps at most 8 elements a thread (4096 over 4 warps spilled 1.4 KiB a thread
    on sm_90; 16 a thread 56 B with Triton 3.6)."""
    return [(k, w) for k in _EW_BLOCKS for w in _EW_WARPS if contig or k <= 8 * 32 * w]


def _ew_specs():
    from .binary import _add
    out = []
    for dt in (D.float32, D.bfloat16):
        for spec in ew_specs(_add, 2, [dt, dt]):          # the contiguous and the strided path
            for blk, w in _ew_tiles(spec.kernel is _ew_contig_kernel):
                if (blk, w) != (1024, 4):
                    out.append(_tuned_spec(spec, blk, w))
    return out


def _tuned_spec(spec, block, warps):
    from ._aot import KernelSpec
    ce = dict(spec.constexprs, BLOCK=block)
    return KernelSpec(spec.kernel, spec.signature, ce, num_warps=warps, label=f"{spec.label} tuned {block} w{warps}")


tune.register(tune.Tunable(
    "elementwise", configs=lambda b: [tune.Config({"BLOCK": k}, num_warps=w) for k, w in _ew_tiles(b[1])],
    key=lambda dt, contig, n: _ew_key(getattr(D, dt).itemsize, contig, n),
    heuristic=lambda b: tune.Config({"BLOCK": 1024}, num_warps=4),
    problems=lambda quick: [("float32", True, 300)] if quick or SIMULATED else
    [(dt, c, n) for dt in ("float32", "bfloat16") for c in (True, False) for n in (1 << 20, 1 << 24, 1 << 26)],
    bench=_ew_bench, specs=_ew_specs, doc="the elementwise template (every unary/binary/ternary op): block, warps"))


def ew_launch(fn, out, operands, compute, p0=0, p1=0):
    """Run ``fn`` over ``operands`` (tensors, already broadcastable to ``out``, or scalars) into ``out``."""
    shape = out._shape
    n = _numel(shape)
    if n == 0:
        return out
    # every op runs this: one pass over the operands, internal fields rather than methods
    contig = out._stride is None or out.is_contiguous()
    nin = len(operands)
    ops = [None, None, None]
    scal = [False, False, False]
    for i, x in enumerate(operands):
        ops[i] = x
        if type(x) is Tensor:
            if contig and (x._shape != shape or x._stride is not None and not x.is_contiguous()):
                contig = False
        else:
            scal[i] = True
    if not contig:
        st = [out.stride()] + [_bstrides(x, shape) if type(x) is Tensor else (0,) * len(shape) for x in ops]
        sizes, cst = _collapse(shape, st)
        if len(sizes) > MAX_RANK:
            return _split_launch(fn, out, operands, compute, p0, p1)
        pad = MAX_RANK - len(sizes)
        sizes = ([1] * pad + sizes)[1:]
        flat = [s for st in cst for s in [0] * pad + st]
    cfg = _FORCE[0] or _ew_config(out.dtype.itemsize, contig, n)
    block, warps = (cfg.kwargs["BLOCK"], cfg.num_warps) if cfg is not None else (_block(n), 4)
    if fn in HEAVY and not SIMULATED:
        block, warps = HEAVY[fn]
    mkey = (fn, nin, scal[0], scal[1], scal[2], compute, block, warps)
    meta = _EW_META.get(mkey)
    if meta is None:
        meta = _EW_META[mkey] = dict(FN=fn, NIN=nin, A_SCALAR=scal[0], B_SCALAR=scal[1], C_SCALAR=scal[2],
                                     COMPUTE=_TL[compute], BLOCK=block, num_warps=warps)
    if contig:
        kernel, args = _ew_contig_kernel, (out, ops[0], ops[1], ops[2], n, p0, p1)
    else:
        kernel, args = _ew_kernel, (out, ops[0], ops[1], ops[2], n, p0, p1, *sizes, *flat)
    launch_keyed(kernel, ((n + block - 1) // block,), args, meta, mkey)
    if _PLAN_NEXT[0] is not None:           # a public function plans its launch (see Plan): the first one
        _PLAN_NEXT[0] = (kernel, (n + block - 1) // block, args, meta, mkey, cfg, contig) \
            if _PLAN_NEXT[0] is _ASK else _MANY
    return out


# --- planned launches (real GPUs) ------------------------------------------------------------
# A 1-element ``a + b`` took about 12 µs of host time on a 2-core VM with the launcher a no-op, 7 of
# them in the layers between the public function and the launcher: Op.__call__ (autocast, devices),
# the op's cuda function (scalars, parameters), ew_launch (contiguity, the tuned block), launch_keyed
# (context, profiler, the fast path's key over every argument). All of that depends on the operands'
# dtypes, shapes, strides and device alone, so a unary or binary op's public function remembers it
# per such key in a ``Plan``: the output's shape and dtype, the compiled kernel's launcher entry (the
# fast path's), the grid and the arguments (a broadcast or strided operand's sizes and strides among
# them: the backward of a sum multiplies by a stride-0 expand). The next call with the same key
# allocates its output, reads the operands' addresses and calls the launcher; autograd records as
# Op.__call__ does. A plan is used only where the fast path itself would launch
# (``_plan.plans_on``), with 16-byte aligned operands (as when it was made) and the elementwise
# tuning winner it was made with. This is ``_plan.py``'s mechanism made lean for the commonest ops:
# one launch, the scalar operands in known places (that module records any op's launches, tensor
# arguments only).
_PLAN_NEXT = [None]     # while a plan is made: _ASK, then ew_launch's first launch, or _MANY
_ASK, _MANY = object(), object()


class Plan:
    __slots__ = ("out_shape", "out_dtype", "run", "head", "tail", "grid", "args", "slots", "bucket", "cfg", "attrs")


def make_plan(call, operands, slots, attrs, fresh=True):
    """Run ``call()`` (the op's usual path; it returns the output) and plan its launch; returns
    (output, Plan or None). ``slots``: per kernel operand (a, b, c), where a call's value comes from:
    an index into ``operands``, or None (baked: a parameter, or no operand). ``attrs``: the op's
    keyword arguments, for autograd. Planned only where the call made exactly one launch, into its
    output (contiguous; and fresh, at offset 0, unless ``fresh`` is False: a call writing an existing
    tensor, whose plan then runs ``into`` others, or into new tensors as well), from these very
    operands."""
    _PLAN_NEXT[0] = _ASK
    try:
        out = call()
    finally:
        rec, _PLAN_NEXT[0] = _PLAN_NEXT[0], None
    if type(rec) is not tuple or type(out) is not Tensor or rec[2][0] is not out or out._stride is not None \
            or (out._offset and fresh) or not plans_on():
        return out, None
    for i, j in enumerate(slots):
        a, x = rec[2][1 + i], None if j is None else operands[j]
        if type(x) is Tensor:
            ok = a is x
        elif j is None:
            ok = type(a) is not Tensor
        else:       # a Python scalar, passed by value: as a float (an int's value would pick the kernel)
            ok = type(a) is float and a == float(x)
        if not ok:
            return out, None
    return out, _plan_from(out, rec, slots, attrs)


def _plan_from(out, rec, slots, attrs):
    kernel, grid, args, meta, mkey, cfg, contig = rec
    dev = out.device.index
    try:
        key, vals = _launch._fast_key(kernel, dev, args, meta, mkey)
    except TypeError:
        return None
    hit = _launch._FAST.get(key)
    if hit is None or any(type(a) is Tensor and v & 15 for a, v in zip(args, vals)):
        return None
    plan = Plan()
    plan.out_shape = out._shape
    plan.out_dtype = out.dtype
    plan.run, plan.head, plan.tail = hit
    plan.grid = grid
    plan.args = list(vals)
    plan.slots = tuple((1 + i, s) for i, s in enumerate(slots) if s is not None)
    plan.bucket = (out.dtype.itemsize, contig, args[4])   # _ew_config's arguments
    plan.cfg = cfg
    plan.attrs = attrs
    return plan


def run_plan(plan, op, operands, device, into=None):
    """Launch ``plan`` on ``operands`` (tensors of the plan's key's shapes and strides, on ``device``;
    scalars by value); None where the plan doesn't hold for this call (the caller takes its usual
    path). ``into``: write the result there (an in-place op or ``out=``, with nothing to record: the
    caller checked), a contiguous tensor of the plan's output shape and dtype at a 16-byte aligned
    address (as the planned output was), instead of a new tensor."""
    if not plans_on() or _ew_config(*plan.bucket) is not plan.cfg:
        return None
    if into is not None and (into._stride is not None or into._shape != plan.out_shape
                             or into.dtype is not plan.out_dtype or not _aligned(into)):
        return None
    args = plan.args[:]
    for i, j in plan.slots:
        x = operands[j]
        if type(x) is Tensor:
            p = x._storage._p + x._offset * x.dtype.itemsize
            if p & 15:
                return None
            args[i] = p
        else:
            args[i] = float(x)
    _driver._backend.context(device.index)     # a no-op once bound on this thread
    if into is not None:
        args[0] = into._storage._p + into._offset * into.dtype.itemsize
        plan.run(plan.grid, 1, 1, 0, *plan.head, *args, *plan.tail)
        return into
    out = Tensor._empty(plan.out_shape, plan.out_dtype, device)
    args[0] = out._storage._p
    plan.run(plan.grid, 1, 1, 0, *plan.head, *args, *plan.tail)
    if op.backward is not None and grad_mode._state["enabled"]:
        for t in operands:
            if type(t) is Tensor and t.requires_grad:
                op._record(operands, dict(plan.attrs), out)
                break
    return out


# ew_launch's keyword arguments per (fn, operand count, scalar operands, compute dtype, block, warps):
# built once, and that tuple keys them in the launch fast path (cheaper to hash than the dict's items)
_EW_META = {}


def _split_launch(fn, out, operands, compute, p0, p1):
    """Rank too high after merging dims: launch once per index of the leading dim."""
    lead = out.ndim
    for i in range(out._shape[0]):
        sub = []
        for x in operands:
            if type(x) is Tensor and x.ndim == lead and x._shape[0] != 1:
                sub.append(_select0(x, i))
            elif type(x) is Tensor and x.ndim == lead:
                sub.append(_select0(x, 0))
            else:
                sub.append(x)
        ew_launch(fn, _select0(out, i), sub, compute, p0, p1)
    return out


def _select0(t, i):
    return t._view(t._shape[1:], t.stride()[1:], t._offset + i * t.stride()[0])


@triton.jit
def _identity(x, p0, p1):
    return x


def copy_into(dst, src):
    """Write ``src`` (tensor broadcastable to ``dst``, or a scalar) into ``dst``, casting; no autograd.
    On cuda a tensor into a contiguous ``dst`` runs a plan of the copy per (dtypes, shapes, ``src``'s
    strides, the transposing copy's thresholds), made by the second call of its key (see ``Plan``):
    in-place ops computed out of place (``relu_``) and ``Tensor.copy_`` end here."""
    if dst.device.type == "cpu":
        s = src._np if type(src) is Tensor else src
        if not dst.dtype.is_complex and np.iscomplexobj(s):     # (NumPy would warn: PyTorch warns in to())
            s = np.real(s)
        if dst.dtype._limited and dst.dtype in D.float8_dtypes:     # PyTorch's saturation and NaN rules
            from .float8 import np_cast
            s = np_cast(np.asarray(s), dst.dtype)
        np.copyto(dst._np, s, casting="unsafe")
        return dst
    if type(src) is Tensor and src.device != dst.device:
        from .movement import to_device
        src = to_device(src, dst.device)
    if dst.dtype._limited or type(src) is complex or type(src) is Tensor and src.dtype._limited:
        if dst.dtype in D.float8_dtypes or type(src) is Tensor and src.dtype in D.float8_dtypes:
            from .float8 import _copy_float8   # (kernels take float8 as bytes: float8.py converts them)
            return _copy_float8(dst, src)
        if dst.dtype.is_complex or type(src) is complex or type(src) is Tensor and src.dtype.is_complex:
            from .complex import copy_complex     # (kernels take no complex pointers: copies of the parts)
            return copy_complex(dst, src)
    if type(src) is Tensor and dst._stride is None and _aligned(dst):
        key = (dst.dtype, dst._shape, src.dtype, src._shape, src._stride, dst.device, _T_MIN, _T_BLOCK)
        plan = _plan.find(_COPIES, key)
        if plan is _plan.SEEN:                  # (the copy itself, recorded)
            _, plan = make_plan(lambda: _copy(dst, src), (src,), (0,), {}, fresh=False)
            _COPIES[key] = plan or _plan.NO_PLAN
            return dst
        if plan is not None and run_plan(plan, _Unrecorded, (src,), dst.device, dst) is not None:
            return dst
    return _copy(dst, src)


def _aligned(t):
    """Whether device tensor ``t`` starts at a 16-byte aligned address (as a planned output did); False
    on the simulated device, which plans nothing."""
    p = t._storage._p
    return p is not None and not (p + t._offset * t.dtype.itemsize) & 15


_COPIES = {}        # cuda: copy_into's plans (cleared with every op's, _plan.clear)
_plan.OTHERS.append(_COPIES)


class _Unrecorded:
    backward = None     # what run_plan asks of an op: a copy or a fill records no autograd


def _copy(dst, src):
    """copy_into's launch (cuda): by tiles where the copy transposes, else the elementwise kernel."""
    if type(src) is Tensor and src.dtype is dst.dtype and src._shape == dst._shape and _transpose(dst, src):
        return dst
    compute = src.dtype if type(src) is Tensor else dst.dtype
    if compute is D.bool:
        compute = D.int8
    ew_launch(_identity, dst, [src], compute)
    return dst


# A copy that transposes (``x.t().contiguous()``, attention's K^T copy, a GEMM operand made K-major):
# the elementwise kernel walks the output in order, so it reads the input with a stride and each
# 32-byte sector it fetches serves one element. Copies that swap the contiguous dim take tiles
# instead, read along the input's contiguous dim and written along the output's; Triton moves each
# tile between the two layouts through shared memory. On an H100, 8192 x 8192 float32 transposed:
# 0.19 ms by tiles (2.9 TB/s), 0.59 by the elementwise kernel.
_T_BLOCK = 64          # the tile's side; tests lower it so small shapes cross tile edges
_T_MIN = 16            # a transposed dim shorter than this wastes most of a tile: the elementwise kernel


@triton.jit
def _transpose_kernel(dst_ptr, src_ptr, R, C, s_sb, s_sc, s_db, s_dr, BLOCK: tl.constexpr):
    """``dst[b, r, c] = src[b, r, c]`` with ``src`` contiguous along r and ``dst`` along c (unit
    strides, not arguments, so Triton sees both contiguities and coalesces both sides)."""
    tiles_c = tl.cdiv(C, BLOCK)
    pid = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    rr = (pid // tiles_c).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    rc = (pid % tiles_c).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = (rr < R)[:, None] & (rc < C)[None, :]
    x = tl.load(src_ptr + b * s_sb + rr[:, None] + rc[None, :] * s_sc, mask=mask)
    tl.store(dst_ptr + b * s_db + rr[:, None] * s_dr + rc[None, :], x, mask=mask)


def _transpose(dst, src):
    """Copy ``src`` into ``dst`` (same shape and dtype) by tiles when the copy swaps the contiguous
    dim (at most one other dim, after merging); False where it doesn't apply."""
    sizes, (sd, ss) = _collapse(dst._shape, [dst.stride(), src.stride()])
    if len(sizes) not in (2, 3) or sd[-1] != 1 or ss[-1] == 1 or 1 not in ss[:-1] or sizes[-1] < _T_MIN:
        return False
    j = ss.index(1)
    b = 1 - j if len(sizes) == 3 else None     # the other dim, if any, is the grid's second axis
    if sizes[j] < _T_MIN or (b is not None and sizes[b] > 65535):
        return False
    R, C = sizes[j], sizes[-1]
    blk = _T_BLOCK
    launch(_transpose_kernel, (cdiv(R, blk) * cdiv(C, blk), 1 if b is None else sizes[b]), dst, src, R, C,
           0 if b is None else ss[b], ss[-1], 0 if b is None else sd[b], sd[j], BLOCK=blk, num_warps=4)
    return True


def _transpose_specs():
    """Each dtype with round sizes and strides (the launcher marks them divisible by 16: 16-byte
    vectors on both sides), and float32 with odd ones (scalar accesses)."""
    from ._aot import KernelSpec, ptr
    sig = {n: "i32" for n in ("R", "C", "s_sb", "s_sc", "s_db", "s_dr")}     # as launched (values under 2^31)
    return [KernelSpec(_transpose_kernel, {"dst_ptr": ptr(dt), "src_ptr": ptr(dt), **sig}, {"BLOCK": _T_BLOCK},
                       num_warps=4, label=f"transpose {dt}{'' if rnd else ' odd sizes'}",
                       divisible=["dst_ptr", "src_ptr"] + (list(sig) if rnd else []))
            for dt, rnd in [(d, True) for d in (D.float32, D.float16, D.bfloat16, D.int64, D.bool)] +
            [(D.float32, False)]]


# --------------------------------------------------------------------------- scalars on cuda
def scalar_operand(x, compute, device):
    """A Python scalar as a kernel operand: passed by value unless Triton would round it.

    Triton types a float argument as fp32 and an int as i32/i64; a float64 op with a scalar
    that fp32 can't hold exactly gets a 0-dim tensor instead.
    """
    if compute is D.float64 and isinstance(x, float) and x == x and (
            abs(x) > 3.4028234663852886e38 or float(np.float32(x)) != x):
        from .creation import tensor  # uploaded from the host: a fill kernel would round it to fp32
        return tensor(x, dtype=D.float64, device=device)
    if compute.is_floating_point:
        return float(x)
    if compute is D.bool or compute is D.int8:
        return int(x)
    return int(x)


_plan._bind()       # plans_on reads this module's kernel type, now defined
