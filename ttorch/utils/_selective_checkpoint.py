"""Selective activation checkpointing: a policy picks which ops of a checkpointed function keep their
outputs from the forward, so that the recomputation in backward replays them instead of running them.

``create_selective_checkpoint_contexts(policy)`` returns the two contexts ``checkpoint``'s
``context_fn`` asks for. The forward's context runs each op, asks the policy about it and caches
the outputs of those to save; the recomputation's context hands back, op by op in the same order,
the cached outputs (the op is not run again) and runs the others. Either way the op records its
graph node as usual, so backward goes through the cached outputs.

ttorch's op identity: PyTorch passes the policy ``torch.ops.aten.mm.default`` and the like; ttorch
has no aten dispatcher and passes its own ``Op`` objects (``ttorch.ops.REGISTRY["mm"]``), with the
op's positional inputs and keyword attributes. ``op.name`` is the aten name where ttorch's op is
the same (``mm``, ``bmm``, ``addmm``, ``sigmoid``...). The list form takes ``Op`` objects or names
(``"mm"``, ``"aten::mm"``, ``"aten.mm.default"``). Only ops with a backward rule are seen, once each
(the outermost: ops an op runs inside are not asked about); ops that only compose others are not
ops here, the ops they call are; views and in-place ops (``SAC_IGNORED_OPS``) run as they are, never
cached. ``*_CPU_OFFLOAD`` keeps the cached outputs on the cpu until the recomputation moves them back.
"""
import enum
from collections import defaultdict

from ..autograd import grad_mode
from .._tensor import Tensor
from ..ops import _op

__all__ = ["CheckpointPolicy", "SelectiveCheckpointContext", "create_selective_checkpoint_contexts",
           "SAC_IGNORED_OPS"]


class CheckpointPolicy(enum.Enum):
    """Whether an op's output is saved in the forward (``*_SAVE``), recomputed in backward
    (``*_RECOMPUTE``) or saved on the cpu (``*_CPU_OFFLOAD``). ``MUST_*`` and ``PREFER_*`` act alike
    in eager mode (PyTorch lets ``torch.compile`` override ``PREFER_*``)."""
    MUST_SAVE = 0
    PREFER_SAVE = 1
    MUST_RECOMPUTE = 2
    PREFER_RECOMPUTE = 3
    MUST_CPU_OFFLOAD = 4
    PREFER_CPU_OFFLOAD = 5


_SAVE = (CheckpointPolicy.MUST_SAVE, CheckpointPolicy.PREFER_SAVE)
_OFFLOAD = (CheckpointPolicy.MUST_CPU_OFFLOAD, CheckpointPolicy.PREFER_CPU_OFFLOAD)


def _aliasing(op):
    """Views and in-place ops: their outputs alias their inputs, and ttorch's view and in-place bookkeeping
    happens as they run, so they run as they are (recomputing a view costs nothing)."""
    return op.family == "view" or op.name.endswith("_")


# Ops run as they are in both passes, never offered to the policy, cached nor counted. PyTorch lists
# ``aten.detach`` (its checkpoint detaches a different number of times in the two passes) and metadata
# queries; ttorch's checkpoint runs no op of its own in either pass, and lists its view and in-place ops
# (an op registered later is ignored by the same rule).
SAC_IGNORED_OPS = {op for op in _op.REGISTRY.values() if _aliasing(op)}


class SelectiveCheckpointContext:
    """What the policy function gets first: ``is_recompute`` (always False: the policy is asked in
    the forward only; the recomputation replays by position) and ``op_output``."""

    def __init__(self, *, is_recompute, op_output=None):
        self.is_recompute = is_recompute
        self.op_output = op_output


def _policy_from_bool(b):
    return CheckpointPolicy.MUST_SAVE if b else CheckpointPolicy.PREFER_RECOMPUTE


_RECOMPUTE = object()
_CONSUMED = object()
_MISMATCH = ("This can happen if the operations in the checkpointed region are nondeterministic or depend on global "
             "state that changed between forward and backward.")


class _Mode:
    """Installed as ``ops._op._sac`` while entered (re-entrant: the recomputation may run twice)."""

    def __init__(self, storage):
        self.storage = storage
        self.counter = defaultdict(int)
        self._prev = []

    def __enter__(self):
        self._prev.append(_op._sac)
        _op._sac = self
        return self

    def __exit__(self, *exc):
        _op._sac = self._prev.pop()
        return False

    @staticmethod
    def takes(op):
        """Whether this mode handles ``op`` (``Op.__call__`` asks): ops with a backward rule, not ignored."""
        return op.backward is not None and op not in SAC_IGNORED_OPS and not _aliasing(op)

    def _index(self, op):
        idx = self.counter[op.name]
        self.counter[op.name] += 1
        return idx

    @staticmethod
    def _run(fn, /, *args, **kwargs):       # (positional-only: ops have an attribute named fn)
        """``fn`` without this mode, autocast (the inputs are cast already), forward AD (the caller
        propagates tangents) or a graph (the caller records the op's node)."""
        saved = _op._sac, _op._autocast, _op._forward_ad
        _op._sac = _op._autocast = _op._forward_ad = None
        try:
            with grad_mode.no_grad():
                return fn(*args, **kwargs)
        finally:
            _op._sac, _op._autocast, _op._forward_ad = saved


class _Entry:
    """A cached output, with its version (mutating it is an error unless allowed) and device."""

    def __init__(self, t, offload):
        self.device = t.device
        self.val = t.detach()
        self.version = self.val._version
        if offload and self.device.type != "cpu":
            self.val = _Mode._run(self.val.to, "cpu")

    def get(self, allow_mutation):
        if not allow_mutation and self.val._version != self.version:
            raise RuntimeError("Tensor cached during selective activation checkpoint has been mutated")
        return self.val if self.val.device == self.device else _Mode._run(self.val.to, self.device)


def _tree_map(fn, out, leaf):
    """``fn`` applied to the ``leaf`` objects of an op's output (a tensor or a tuple of them)."""
    if isinstance(out, tuple):
        mapped = [_tree_map(fn, o, leaf) for o in out]
        return type(out)(*mapped) if hasattr(out, "_fields") else tuple(mapped)
    if isinstance(out, list):
        return [_tree_map(fn, o, leaf) for o in out]
    return fn(out) if isinstance(out, leaf) else out


class _CachingMode(_Mode):
    """The forward's context: run each op, ask the policy, cache what it says to save."""

    def __init__(self, policy_fn, storage):
        super().__init__(storage)
        self.policy_fn = policy_fn

    def __call__(self, op, inputs, attrs):
        out = self._run(op, *inputs, **attrs)
        idx = self._index(op)
        policy = self.policy_fn(SelectiveCheckpointContext(is_recompute=False, op_output=out), op, *inputs, **attrs)
        if isinstance(policy, bool):
            policy = _policy_from_bool(policy)
        if policy in _SAVE or policy in _OFFLOAD:
            offload = policy in _OFFLOAD
            self.storage[op.name][idx] = _tree_map(lambda t: _Entry(t, offload), out, Tensor)
        else:
            self.storage[op.name][idx] = _RECOMPUTE
        return out


class _CachedMode(_Mode):
    """The recomputation's context: hand back cached outputs by (op, call index), run the rest."""

    def __init__(self, storage, allow_cache_entry_mutation):
        super().__init__(storage)
        self.allow_cache_entry_mutation = allow_cache_entry_mutation

    def __enter__(self):
        self.counter.clear()    # a second backward finds consumed entries: "backward an extra time"
        return super().__enter__()

    def __call__(self, op, inputs, attrs):
        idx = self._index(op)
        entries = self.storage.get(op.name)
        if entries is None:
            raise RuntimeError(f"{op.name} encountered during backward but not found in storage. {_MISMATCH}")
        entry = entries.get(idx)
        if entry is None:
            raise RuntimeError(f"{op.name} invocation index {idx} encountered during backward but not found in "
                               f"storage. {_MISMATCH}")
        if entry is _CONSUMED:
            raise RuntimeError("Trying to backward an extra time. You are only allowed to backward once on any "
                               "region computed under selective activation checkpoint.")
        if entry is _RECOMPUTE:
            return self._run(op, *inputs, **attrs)
        entries[idx] = _CONSUMED
        return _tree_map(lambda e: e.get(self.allow_cache_entry_mutation), entry, _Entry)


def _op_name(op):
    """The ttorch op name an entry of the list form stands for."""
    if isinstance(op, _op.Op):
        return op.name
    if isinstance(op, str):
        name = op.split("::")[-1]
        if name.startswith("aten."):
            name = name.split(".")[1]
        return name
    raise ValueError(f"Expected op in `op_list` to be an OpOverload but got: {op} of type {type(op)}. ")


def create_selective_checkpoint_contexts(policy_fn_or_list, allow_cache_entry_mutation=False):
    """The ``(forward, recomputation)`` contexts of a selective checkpoint, for ``checkpoint``'s ``context_fn``.

    Args:
        policy_fn_or_list (Callable or List): ``policy_fn(ctx, op, *args, **kwargs)`` returning a
            :class:`CheckpointPolicy` (or a bool: True is ``MUST_SAVE``), asked once per op call in the
            forward; or a list of ops (ttorch ``Op`` objects or names) whose outputs are saved
            (``MUST_SAVE``; every other op ``PREFER_RECOMPUTE``).
        allow_cache_entry_mutation (bool): don't raise when a cached output was modified in place
            before the recomputation used it. Default: False.

    Example::

        >>> import functools
        >>> from ttorch.utils.checkpoint import checkpoint, create_selective_checkpoint_contexts
        >>> x = ttorch.ones(2, 2, requires_grad=True)
        >>> ctx_fn = functools.partial(create_selective_checkpoint_contexts, ["mm"])
        >>> checkpoint(lambda x: (x @ x).sigmoid(), x, use_reentrant=False, context_fn=ctx_fn).sum().backward()
        >>> x.grad.shape
        ttorch.Size([2, 2])
    """
    if isinstance(policy_fn_or_list, list):
        names = {_op_name(op) for op in policy_fn_or_list}

        def policy_fn(ctx, op, *args, **kwargs):
            return CheckpointPolicy.MUST_SAVE if op.name in names else CheckpointPolicy.PREFER_RECOMPUTE
    elif callable(policy_fn_or_list):
        policy_fn = policy_fn_or_list
    else:
        raise TypeError("policy_fn_or_list must be either a function or a list of ops.")
    storage = defaultdict(dict)
    return _CachingMode(policy_fn, storage), _CachedMode(storage, allow_cache_entry_mutation)
