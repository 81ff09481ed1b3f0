"""What the fused optimizer updates share: state creation, host-side argument checks, and running
one parameter's update on either device.

Each optimizer updates one parameter at a time: on cpu a NumPy function working in place on the
parameter's and state's arrays (PyTorch's single-tensor operation order), on cuda one fused Triton
kernel launch (``_launch_update``). The step count lives in ``state["step"]``, a float32 tensor on
the cpu as in PyTorch's non-capturable path, so the host reads it without a device sync and
computes the bias corrections and schedules as Python floats.
"""
import numpy as np
import triton
import triton.language as tl

from .. import _dtype as _D, tune
from .._tensor import Tensor
# (modules, their attributes read per call: tests swap them)
from ..ops import _launch as _ops_launch, elementwise as _ew
from ..ops._many import _meta, _table, _address


def _check_float(name, value, low=0.0, msg=None):
    """PyTorch's argument checks: ``ValueError(f"Invalid {name}: {value}")``."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        value = value.item()
    if not low <= value:
        raise ValueError(msg or f"Invalid {name}: {value}")


def _check_beta(i, beta):
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def _check_adam_args(eps, betas, weight_decay):
    """The checks the Adam family's constructors make after ``lr``, in PyTorch's order."""
    _check_float("epsilon value", eps)
    _check_beta(0, betas[0])
    _check_beta(1, betas[1])
    _check_float("weight_decay value", weight_decay)


def _value(x):
    """A Python float from a float or a 1-element tensor (a tensor ``lr``)."""
    return x.item() if isinstance(x, Tensor) else x


def _step_tensor():
    """A fresh ``state["step"]``: a 0-d float32 cpu tensor (PyTorch's non-capturable layout)."""
    return Tensor._wrap_np(np.zeros((), np.float32))


def _bump_step(state):
    """``state["step"] += 1`` in place on its host array; returns the new count as a Python float."""
    st = state["step"]
    if type(st) is not Tensor:       # old checkpoints kept a Python number (PyTorch converts it too)
        st = state["step"] = Tensor._wrap_np(np.array(st, np.float32))
    elif st.device.type != "cpu":    # a state dict moved to the device by hand: bring it back once
        st = state["step"] = st.cpu()
    a = st._np
    v = float(a) + 1                 # (exact: float32 holds every count up to 2^24, as PyTorch's does)
    a[()] = v                        # in place: the tensor (a view of it, a state dict) sees the count
    st._bump_version()
    return float(a) if v > 1 << 24 else v


def _zeros_like(p):
    """A zero state buffer with ``p``'s shape, dtype and device (contiguous)."""
    if type(p) is not Tensor and hasattr(p, "_zeros_like"):   # a DTensor: zeros laid out as it is
        return p._zeros_like()
    from ..ops.creation import zeros
    return zeros(p.shape, dtype=p.dtype, device=p.device)


def _buffer(state, key, p, needed=True):
    """``state[key]``, created as zeros when an option needs it but the state (loaded from a run
    with other options) lacks it; None when not needed. Never hand a kernel a missing buffer."""
    if not needed:
        return None
    buf = state.get(key)
    if buf is None:
        buf = state[key] = _zeros_like(p)
    return buf


def _arrays(*tensors):
    """The writable host arrays of cpu tensors (None stays None)."""
    return [None if t is None else t._np for t in tensors]


def _bump(*tensors):
    """Record in-place writes on the version counters (autograd's saved-tensor checks)."""
    for t in tensors:
        if t is not None:
            t._bump_version()


BLOCK = 1024   # elements per program of the fused update kernels (the untuned choice, with 4 warps)

# ------------------------------------------------------------------------------ tuning
# Tuned per (update kernel, dtype, size bucket): the elements per program and the warps. The
# kernels are memory-bound streams over the parameter, its gradient and state; small parameters
# share one bucket (their time is the launch). Heuristic (untuned): BLOCK and 4 warps.
_BLOCKS, _WARPS = (512, 1024, 2048, 4096), (4, 8)
_FORCE = [None]     # a Config while the tuner times it
_TUNED = {"SGD": ("_sgd_kernel", {"momentum": 0.9}), "Adam": ("_adam_kernel", {}), "AdamW": ("_adam_kernel", {})}


def _tune_key(kernel_name, dtype_name, n):
    return (kernel_name, dtype_name, tune.bucket(n, 1 << 16))


def _tune_bench(cfg, opt, dtype, n):
    from .. import optim, _dtype as D
    from ..ops.creation import zeros, ones
    p = zeros(n, dtype=getattr(D, dtype), device="cuda")
    p.requires_grad_(True)
    p.grad = ones(n, dtype=p.dtype, device="cuda")
    o = getattr(optim, opt)([p], lr=1e-3, **_TUNED[opt][1])
    o.step()                            # the state exists before timing

    def run():
        _FORCE[0] = cfg
        try:
            o.step()
        finally:
            _FORCE[0] = None
    return run


def _tune_specs():
    """Every optimizer's first (float32) configuration at each tuned block and warp count."""
    from ..ops._aot import KernelSpec
    from ..ops._op import REGISTRY
    out = []
    for op in REGISTRY.values():
        if op.family != "optim":
            continue
        base = op.specs()[0]
        for blk, w in _tiles():
            if (blk, w) != (BLOCK, 4):
                out.append(KernelSpec(base.kernel, base.signature, dict(base.constexprs, BLOCK=blk), num_warps=w,
                                      label=f"{base.label} tuned {blk} w{w}"))
    return out


def _tiles():
    """The (block, warps) the tuner may pick: at most 16 elements a thread (an update holds the
    parameter, gradient and state of each: 4096 over 4 warps spilled 280-540 B a thread on sm_90)."""
    return [(blk, w) for blk in _BLOCKS for w in _WARPS if blk <= 16 * 32 * w]


tune.register(tune.Tunable(
    "optim_update", configs=lambda b: [tune.Config({"BLOCK": blk}, num_warps=w) for blk, w in _tiles()],
    key=lambda opt, dt, n: _tune_key(_TUNED[opt][0], dt, n),
    heuristic=lambda b: tune.Config({"BLOCK": BLOCK}, num_warps=4),
    problems=lambda quick: [("Adam", "float32", 3000)] if quick or _simulated() else
    [(o, dt, n) for o in ("SGD", "Adam") for dt in ("float32", "bfloat16") for n in (1 << 20, 1 << 24)],
    bench=_tune_bench, specs=_tune_specs,
    doc="the optimizers' fused per-parameter updates: elements per program, warps"))


def _simulated():
    from ..ops._launch import SIMULATED
    return SIMULATED


def _acc(dtype):
    """The kernels' compute type: float64 for float64 parameters, float32 otherwise (PyTorch's opmath)."""
    return tl.float64 if dtype is _D.float64 else tl.float32


def _launch_update(kernel, p, grad, bufs, scalars, **constexprs):
    """One fused update kernel launch over ``p``: ``kernel(p, grad, *bufs, n, *scalars, ...)``.

    Hyperparameters arrive as Python floats computed on the host (the kernels see them as fp32
    scalars, as Triton types a float argument). State buffers are contiguous (made so at
    creation); a strided parameter or grad is updated through a contiguous copy.
    """
    from ..ops._launch import launch, cdiv
    from ..ops.elementwise import copy_into
    n = p.numel()
    if n == 0:
        return
    pc = p if p.is_contiguous() else p.contiguous()
    g = grad if grad.dtype is p.dtype else grad.to(p.dtype)
    g = g if g.is_contiguous() else g.contiguous()
    cfg = _FORCE[0] or (tune.lookup("optim_update", _tune_key(kernel.fn.__name__, p.dtype.name, n))
                        if tune.has_winners("optim_update") else None)
    block, warps = (cfg.kwargs["BLOCK"], cfg.num_warps) if cfg is not None else (BLOCK, 4)
    launch(kernel, (cdiv(n, block),), pc, g, *[pc if b is None else b for b in bufs], n, *[float(s) for s in scalars],
           ACC=_acc(p.dtype), BLOCK=block, num_warps=warps, **constexprs)
    if pc is not p:
        copy_into(p, pc)
    _bump(p, *bufs)


def _update_specs(kernel, name, n_bufs, n_scalars, configs):
    """AOT KernelSpecs: one per ``(dtype, constexprs)`` in ``configs``."""
    from ..ops._aot import KernelSpec, ptr
    out = []
    names = kernel.arg_names
    for dt, flags in configs:
        sig = {names[0]: ptr(dt), names[1]: ptr(dt)}
        sig.update({names[2 + i]: ptr(dt) for i in range(n_bufs)})
        sig[names[2 + n_bufs]] = "i32"
        sig.update({names[3 + n_bufs + i]: "fp32" for i in range(n_scalars)})
        ce = dict(flags, ACC=_acc(dt), BLOCK=BLOCK)
        label = f"{name} {dt} " + " ".join(k.lower() for k, v in flags.items() if v)
        out.append(KernelSpec(kernel, sig, ce, num_warps=4, label=label.strip()))
    return out


def _check_fused_foreach(fused, foreach, differentiable):
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")


# PyTorch's error for a sparse gradient, per fused update
_NO_SPARSE = {"adam_update": "Adam does not support sparse gradients, please consider SparseAdam instead",
              "rmsprop_update": "RMSprop does not support sparse gradients",
              "adadelta_update": "Adadelta does not support sparse gradients",
              "adamax_update": "Adamax does not support sparse gradients",
              "nadam_update": "NAdam does not support sparse gradients",
              "radam_update": "RAdam does not support sparse gradients"}


def _apply(op, p, grad, bufs, **kw):
    """Run a fused update ``op`` on one parameter: its NumPy version on cpu (in place on the
    arrays), its one-kernel Triton version on cuda."""
    if grad.is_sparse:      # (SGD and Adagrad take their sparse paths before coming here)
        raise RuntimeError(_NO_SPARSE.get(op.name) or f"{op.name} does not support sparse gradients")
    if type(p) is not Tensor and hasattr(p, "_local_tensor"):     # a DTensor: its shard, updated in place
        loc = lambda t: t if t is None or type(t) is Tensor else t._local_tensor
        p, grad, bufs = loc(p), loc(grad), [loc(b) for b in bufs]
    if p.device.type == "cpu":
        op.cpu(*_arrays(p, grad, *bufs), **kw)
        _bump(p, *bufs)
    else:
        op.cuda(p, grad, *bufs, **kw)


def _grad_(p, g, *, weight_decay, maximize, lr=0.0, decoupled=False):
    """The NumPy updates' prologue: the gradient negated when maximizing, then weight decay, either
    decoupled (``p`` scaled in place) or L2 (returned in the gradient). ``g`` is never written."""
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
    return g


def _moments_(m, v, g, beta1, beta2):
    """Adam's running moments in place: ``m = lerp(m, g, 1 - beta1)``, ``v = beta2 v + (1 - beta2) g g``."""
    _lerp_(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g


def _adam_scalars(lr, beta1, beta2, eps, weight_decay):
    """The leading kernel scalars of the Adam family, in ``_moments``'s and ``_load_grad``'s terms."""
    return [weight_decay, 1 - lr * weight_decay, 1 - beta1, beta2, 1 - beta2, eps]


def _lerp_(a, b, w):
    """``a.lerp_(b, w)`` with torch.lerp's two formulas (exact at ``w`` = 0 and 1)."""
    if abs(w) < 0.5:
        a += w * (b - a)
    else:
        a[...] = b - (b - a) * (1 - w)


@triton.jit
def _lerp(a, b, w):
    """torch.lerp's formula inside a kernel (``w`` a scalar)."""
    return tl.where(w < 0.5, a + w * (b - a), b - (b - a) * (1 - w))


# The kernels' shared pieces. Triton inlines a jit function called from a kernel, and constexpr
# arguments passed on stay constexpr, so the branches below are resolved at compile time.
@triton.jit
def _block(n, BLOCK: tl.constexpr):
    """This program's element offsets (int64: parameters may pass 2**31 elements) and mask."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    return offs, offs < n


@triton.jit
def _load(ptr, offs, mask, ACC: tl.constexpr):
    return tl.load(ptr + offs, mask=mask).to(ACC)


@triton.jit
def _store(ptr, x, offs, mask):
    tl.store(ptr + offs, x.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def _load_grad(p_ptr, g_ptr, offs, mask, weight_decay, decay, WEIGHT_DECAY: tl.constexpr, DECOUPLED: tl.constexpr,
               MAXIMIZE: tl.constexpr, ACC: tl.constexpr):
    """``_grad_`` in a kernel: ``(p, g)`` loaded, ``g`` negated when maximizing, then weight decay,
    decoupled (``p * decay``, ``decay = 1 - lr * weight_decay``) or L2 (``decay`` unused)."""
    p = _load(p_ptr, offs, mask, ACC)
    g = _load(g_ptr, offs, mask, ACC)
    if MAXIMIZE:
        g = -g
    if WEIGHT_DECAY:
        if DECOUPLED:
            p = p * decay
        else:
            g = g + weight_decay * p
    return p, g


@triton.jit
def _moments(m_ptr, v_ptr, g, offs, mask, w1, beta2, w2, ACC: tl.constexpr):
    """``_moments_`` in a kernel (``w1 = 1 - beta1``, ``w2 = 1 - beta2``): stores and returns ``(m, v)``."""
    m = _lerp(_load(m_ptr, offs, mask, ACC), g, w1)
    v = _load(v_ptr, offs, mask, ACC) * beta2 + w2 * g * g
    _store(m_ptr, m, offs, mask)
    _store(v_ptr, v, offs, mask)
    return m, v


# ------------------------------------------------------------------------------ many tensors a launch
# PyTorch's default on cuda is the "foreach" implementation: a few launches a step whatever the
# number of parameters. Here one launch updates a list of same-dtype parameters (``ops/_many.py``:
# the block map, the address tables, the kernels' pointer helpers).
def _many_eligible(p, grad, bufs):
    """Whether ``p`` can join a many-tensor launch: contiguous, grad of its dtype and contiguous."""
    if grad.dtype is not p.dtype or type(p) is not Tensor:    # (a DTensor: updated one by one, on its shard)
        return False
    for t in (p, grad, *bufs):      # (``_stride is None``: contiguous, the common case, without a call)
        if t is not None and t._stride is not None and not t.is_contiguous():
            return False
    return True


# A many-tensor launch tells the kernel when every address in its table is 16-byte aligned (the memory
# cache hands out such blocks; a view at an odd offset is not), so whole blocks load and store 16
# bytes at a time (``_col``). False keeps 4-byte accesses everywhere: gpu_quick times both (unmeasured).
_VECTOR = [True]


def _launch_many(kernel, tuned_as, params, grads, bufs, scalars, **constexprs):
    """One launch of ``kernel(addr, sizes, meta, *scalars, ...)`` over ``params`` (same dtype and
    device, all eligible); ``bufs[k]`` is the list of state buffers ``k`` (None entries: unused).
    Its block and warps are the tuned ones of the one-parameter kernel ``tuned_as`` at the total size."""
    p0 = params[0]
    sizes = tuple(p.numel() for p in params)
    cfg = _FORCE[0] or (tune.lookup("optim_update", _tune_key(tuned_as, p0.dtype.name, sum(sizes)))
                        if tune.has_winners("optim_update") else None)
    block, warps = (cfg.kwargs["BLOCK"], cfg.num_warps) if cfg is not None else (BLOCK, 4)
    meta = _meta(sizes, block, p0.device)
    rows = tuple((_address(p), _address(g)) + tuple([_address(p if b is None else b) for b in bs])
                 for p, g, bs in zip(params, grads, zip(*bufs)))
    (addr, aligned), ns = _table(rows, p0.device, aligned=True), _table(sizes, p0.device)
    _ops_launch.launch(kernel, (meta.shape[0],), addr, ns, meta, *[float(s) for s in scalars],
                       ELEM=_ew.tl_dtype(p0.dtype), ACC=_acc(p0.dtype), BLOCK=block,
                       ALIGNED=_VECTOR[0] and aligned, num_warps=warps, **constexprs)
    for p, *bs in zip(params, *bufs):          # in-place writes: the version counters (device tensors:
        p._storage.version += 1                 # each has its storage)
        for b in bs:
            if b is not None:
                b._storage.version += 1


def _many_specs(kernel, name, n_scalars, configs):
    """AOT KernelSpecs of a many-tensor kernel: one per ``(dtype, constexprs)`` in ``configs``."""
    from .. import _dtype as D
    from ..ops._aot import KernelSpec, ptr
    from ..ops.elementwise import tl_dtype
    names = kernel.arg_names
    out = []
    for dt, flags in configs:
        sig = {names[0]: ptr(D.int64), names[1]: ptr(D.int64), names[2]: ptr(D.int64)}
        sig.update({names[3 + i]: "fp32" for i in range(n_scalars)})
        for aligned in (False, True):
            ce = dict(flags, ELEM=tl_dtype(dt), ACC=_acc(dt), BLOCK=BLOCK, ALIGNED=aligned)
            label = f"{name} many {dt} " + " ".join(k.lower() for k, v in ce.items() if v is True)
            out.append(KernelSpec(kernel, sig, ce, num_warps=4, label=label.strip()))
    return out
