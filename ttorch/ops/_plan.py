"""Planned launches: on a real GPU, a call of an op replays the kernel launches an earlier call with
the same metadata made, skipping the host code that decided them.

A small op's time on cuda is mostly host time: a 1-element ``a + b`` took about 12 µs on a 2-core VM
with the launcher a no-op, a ``linear`` about 40, nearly all of it Python deciding what the previous
call with the same shapes decided already. So an op whose cuda code depends only on its inputs'
metadata (dtype, shape, strides, device), its keyword arguments and a few globals it names
(``Op(plan_state=...)``) has its launches recorded the second time a key is seen (a key seen once is
not planned: a stream of new shapes pays nothing), and later calls with that key allocate the output
and the intermediates and call each compiled kernel's launcher directly, with the tensors' addresses
put in their places. Autograd records as for any call (``Op.__call__``).

A plan runs only where the launch fast path itself would launch (real GPU, the fast path on, no
profiler, no launch hook, ``JITFunction.run`` not wrapped), outside autocast, with 16-byte aligned
inputs (as recorded), and with the tuning winners it was recorded with (once the winners changed,
``tune.GENERATION``, each ``tune.lookup`` and ``tune.has_winners`` the recorded call made is made
again and must give the same answer).

Not planned: a recorded call that uploads, downloads or copies memory outside a kernel, makes a host
TMA descriptor, hands a kernel memory it neither got nor allocated (a persistent buffer; excepted are
the device-check slots of ``cuda/_checks.py``, which live as long as the process, a replay arming
their check as the call did, and ``constant`` buffers, which the plan keeps alive), bumps an input's
version counter (a host-side write), or returns anything but tensors over memory it allocated (one,
or a tuple; views of one buffer are kept as views); nor a call that draws random numbers (a
``philox`` attribute other than None: the generator's pair, new at each call, which a replay would
repeat).
Inputs that share memory (``x @ x``) are planned with their pattern: a replay needs the same inputs to
share memory at the same distances, and another pattern records a plan of its own.

Unary and binary ops have a faster plan of their own (``elementwise.run_plan``): one launch, the
scalar operands in known places; ``zeros``, ``ones`` and ``full`` on cuda plan their fill the same way
(``creation._filled``: the value baked in, a plan per value), and copies (``elementwise.copy_into``),
fills and ternary ops writing into an existing tensor run such a plan ``into`` it (``find`` is the
protocol they share).
"""
import os
import threading
import weakref

from .. import _profiling, tune
from .._storage import UntypedStorage
from .._tensor import Tensor
from ..cuda import _checks, _driver
from . import _launch

# ``TTORCH_PLANS=0`` turns plans off (as ``ENABLED[0] = False`` does at run time); so does the launch
# fast path's own switch, ``TTORCH_FAST_LAUNCH=0``.
ENABLED = [os.environ.get("TTORCH_PLANS", "1") != "0"]
SEEN = object()         # a key seen once: planned the second time
NO_PLAN = object()      # a key whose call can't be planned
_MAX_KEYS = 1024


def plans_on():
    """Whether planned launches may run now: where the launch fast path itself would launch."""
    # (not while a call is recorded: an op called inside it must launch through launch_keyed, recorded)
    return (ENABLED[0] and not _launch.SIMULATED and _launch._FAST_ON[0] and _KERNEL_TYPE[0].run is _launch._JIT_RUN[0]
            and _profiling.ACTIVE[0] is None and _op._autocast is None and _driver.RECORDING[0] is None
            and _op._forward_ad is None and _op._dispatch_mode is None and _launch._hooks_idle())


class _Unset:
    run = None


_KERNEL_TYPE = [_Unset]     # every kernel's type (JITFunction): a test wrapping its run shows there; see _bind
_op = None


def _bind():
    """Resolve what plans_on reads from modules that import this one (called when they are loaded)."""
    global _op
    from . import _op as op_module
    from .elementwise import _ew_contig_kernel
    _op = op_module
    _KERNEL_TYPE[0] = type(_ew_contig_kernel)


def clear():
    """Forget every plan (the next calls record them anew): after changing a global that an op's
    ``plan_state`` doesn't name."""
    from ._op import REGISTRY
    for op in REGISTRY.values():
        op._plans.clear()
        getattr(op.public, "plans", {}).clear()      # unary and binary ops' own (elementwise.Plan)
    for plans in OTHERS:
        plans.clear()


# Storages of device buffers made once, cached and never written (the index kernels' sizes and
# strides): a recorded call may hand them to a kernel; the plan passes their recorded address and
# holds them, so a cache that drops one leaves the plan's memory in place.
CONSTANTS = weakref.WeakSet()


def constant(t):
    """Mark device tensor ``t`` (cached by its maker, read-only from now on) as one a plan may pass by
    its address; returns ``t``."""
    CONSTANTS.add(t._storage)
    return t


OTHERS = []     # plan tables outside the ops' (fills, copies, ternary ops into a tensor), cleared with them


def see(plans, key):
    """Mark ``key`` seen once in ``plans`` (at most _MAX_KEYS keys: then it starts over)."""
    if len(plans) >= _MAX_KEYS:
        plans.clear()
    plans[key] = SEEN


def find(plans, key):
    """The one-launch plans' protocol (``elementwise.Plan``) over ``plans``, a table of one kind of call:
    the key's plan, to run; SEEN when this call, the key's second, is to record it (the caller then
    stores ``plan or NO_PLAN``); None where the call takes its usual path (the key's first call, which
    this marks seen; a key that can't be planned; plans off)."""
    plan = plans.get(key)
    if plan is not None and plan is not SEEN:
        return None if plan is NO_PLAN else plan
    if not plans_on():
        return None
    if plan is None:
        see(plans, key)
    return plan


class Plan:
    __slots__ = ("launches", "lookups", "tuned", "inter", "outs", "single", "arms", "alias", "kept")


def call(op, inputs, attrs):
    """``op.cuda(*inputs, **attrs)``, through a plan where there is one (see above)."""
    if not plans_on() or attrs.get("philox") is not None:
        return op.cuda(*inputs, **attrs)
    try:
        key = (tuple([(t.dtype, t._shape, t._stride, t.device) if type(t) is Tensor else (type(t), t)
                      for t in inputs]), tuple(attrs.items()), op.plan_state())
        plan = op._plans.get(key)
    except TypeError:                   # an unhashable argument: no plan
        return op.cuda(*inputs, **attrs)
    if plan is None:
        see(op._plans, key)
    elif plan is SEEN:
        out, plan = _record(op, inputs, attrs)
        op._plans[key] = plan or NO_PLAN
        return out
    elif plan is not NO_PLAN:
        out = _replay(plan, inputs)
        if out is _REALIAS:             # recorded with inputs sharing memory otherwise: record this pattern
            out, plan = _record(op, inputs, attrs)
            op._plans[key] = plan or NO_PLAN
            return out
        if out is not None:
            return out
    return op.cuda(*inputs, **attrs)


_REALIAS = object()     # _replay: the inputs share memory otherwise than the plan's


def _record(op, inputs, attrs):
    launches, lookups = [], []
    versions = [t._version for t in inputs if type(t) is Tensor]
    _driver.ALLOCATED.clear()
    _driver.RECORDING_THREAD[0] = threading.get_ident()     # launches of other threads are not this call's
    _driver.RECORDING[0], tune._RECORDING[0] = launches, lookups
    try:
        out = op.cuda(*inputs, **attrs)
    finally:
        _driver.RECORDING[0] = tune._RECORDING[0] = None
    allocated = set(_driver.ALLOCATED)
    _driver.ALLOCATED.clear()
    outs = out if type(out) is tuple else (out,)
    if not launches or None in launches or not plans_on() or any(type(o) is not Tensor for o in outs) \
            or versions != [t._version for t in inputs if type(t) is Tensor]:   # an input written by the host:
        return out, None                                                        # a side effect a replay skips
    # every tensor a kernel reads or writes is an input's memory, or memory the call allocated (its outputs'
    # and its intermediates')
    bases = {}                          # id(storage) -> (slot: an input's index, or len(inputs) + k for the
    alias = []                          # k-th allocation), byte offset of the slot's address in it)
    for j, t in enumerate(inputs):
        if type(t) is Tensor:
            b = bases.get(id(t._storage))
            if b is not None:           # x @ x, or q, k, v split from one buffer: views of it are taken from
                alias.append((j, b[0], t._offset * t.dtype.itemsize - b[1]))    # the first such input, and
                continue                                                        # a replay needs the same pattern
            bases[id(t._storage)] = (j, t._offset * t.dtype.itemsize)
    inter = []                          # bytes of each allocation (the recorded args keep every storage alive:
    plan = Plan()                       # ids stay unique)
    plan.outs = []
    for k, o in enumerate(outs):        # fresh memory: any view of it (the output's own, or one buffer's)
        sid = id(o._storage)
        if sid not in allocated or any(o is p for p in outs[:k]):
            return out, None            # an input (or a view of one), memory that outlives the call, or one
        if sid not in bases:            # output twice
            bases[sid] = (len(inputs) + len(inter), 0)
            inter.append(o._storage.nbytes_)
        b = o._base
        plan.outs.append((bases[sid][0] - len(inputs), o._shape, o._stride, o._offset, o.dtype,
                          None if b is None else (b._shape, b._stride, b._offset, b.dtype)))
    checks = _checks.storages()         # device-check slots (cuda/_checks.py): buffers that live as long as
    plan.launches = []                  # the process, passed by their recorded address; a replay re-arms them
    plan.arms = False
    kept = []
    for kernel, grid, args, meta, mkey in launches:
        try:
            key, vals = _launch._fast_key(kernel, outs[0].device.index, args, meta, mkey)
        except TypeError:
            return out, None
        hit = _launch._FAST.get(key)
        if hit is None or type(grid) is not tuple:
            return out, None
        slots = []
        for i, a in enumerate(args):
            if type(a) is Tensor:
                base = bases.get(id(a._storage))
                if base is None and id(a._storage) in checks:
                    if id(a._storage) in allocated or vals[i] & 15:     # made by this call: its zero fill is
                        return out, None                                # no part of a replay
                    plan.arms = True
                    continue
                if base is None and a._storage in CONSTANTS:    # by its recorded address, kept alive
                    kept.append(a._storage)
                    continue
                if base is None:
                    if id(a._storage) not in allocated:     # memory that outlives the call (a buffer of
                        return out, None                    # flags, a cache): not something to allocate anew
                    base = bases[id(a._storage)] = (len(inputs) + len(inter), 0)
                    inter.append(a._storage.nbytes_)
                delta = a._offset * a.dtype.itemsize - base[1]
                # the slot's own address (an input's, aligned at every replay; an allocation's start) must be
                # 16-byte aligned; a view at a fixed distance from it then has the alignment it was recorded
                # with at every replay (cat's and stack's slices of the output), as its kernel was compiled for
                if (vals[i] - delta) & 15:
                    return out, None
                slots.append((i, base[0], delta))
            elif type(a) is _launch._TensorDescriptor:
                return out, None
        run, head, tail = hit
        plan.launches.append((run, head, tail, tuple(grid) + (1,) * (3 - len(grid)), vals, tuple(slots)))
    plan.lookups = tuple(lookups)
    plan.tuned = (tune._winners, tune.GENERATION[0])    # the winners the lookups were answered from
    plan.inter = tuple(inter)
    plan.outs = tuple(plan.outs)
    plan.single = type(out) is not tuple
    plan.alias = tuple(alias)
    plan.kept = tuple(kept)
    return out, plan


def _tensor(storage, shape, stride, offset, dtype):
    """A device tensor over ``storage`` (``Tensor._make`` for a replay's outputs, strides as recorded)."""
    t = Tensor.__new__(Tensor)
    t._storage = storage
    t._shape = shape
    t._stride = stride
    t._offset = offset
    t.dtype = dtype
    t.device = storage.device
    return t


def _replay(plan, inputs):
    if plan.lookups and (tune._winners is not plan.tuned[0] or tune.GENERATION[0] != plan.tuned[1]):
        for ask, args, answer in plan.lookups:      # the winners changed since: ask again
            if ask(*args) is not answer:
                return None
        plan.tuned = (tune._winners, tune.GENERATION[0])
    bases = []
    device = None
    for t in inputs:
        if type(t) is Tensor:
            p = t._storage._p + t._offset * t.dtype.itemsize
            if p & 15:
                return None
            bases.append(p)
            device = t.device
        else:
            bases.append(None)
    for j, i, delta in plan.alias:      # inputs sharing memory as recorded: each view from the first one's
        if inputs[j]._storage is not inputs[i]._storage or bases[j] - bases[i] != delta:
            return _REALIAS
    _driver._backend.context(device.index)     # a no-op once bound on this thread
    stores = [UntypedStorage(device, n) for n in plan.inter]    # the intermediates are freed after the
    bases += [s._p for s in stores]                             # launches: stream-ordered
    outs, made = [], None
    for k, shape, stride, offset, dtype, base in plan.outs:
        o = _tensor(stores[k], shape, stride, offset, dtype)
        if base is not None:            # a view of one buffer, as the call returned it (one base a buffer)
            made = made or {}
            b = made.get(k)
            if b is None:
                b = made[k] = _tensor(stores[k], *base)
            o._base = b
        outs.append(o)
    for run, head, tail, g, vals, slots in plan.launches:
        a = list(vals)
        for i, b, d in slots:
            a[i] = bases[b] + d
        run(g[0], g[1], g[2], 0, *head, *a, *tail)
    if plan.arms:                       # a checked kernel ran: the next sync reads the slots
        _checks._armed[0] = True
    return outs[0] if plan.single else tuple(outs)
