"""Tensor collectives: ``all_reduce``, ``broadcast``, ``reduce``, ``all_gather``, ``gather``, ``scatter``,
``reduce_scatter``, ``all_to_all`` and ``barrier``, each in place on the tensors as PyTorch's.

Each rank copies its tensor to the host (a cuda tensor too), sends it to the ranks that need it and
writes the result back with ``copy_``. Reductions combine the ranks' arrays in rank order, ``((r0 op r1)
op r2) ...``, in the tensor's own dtype: every rank computes the same sequence of roundings, so every
rank holds bit-identical results.
"""
import numpy as np

from .. import _dtype as D
from ..autograd.grad_mode import no_grad
from ..ops import FUNCTIONS as _F
from .distributed_c10d import ReduceOp, _group_rank_of, _resolve, _warn_not_in_group
from .store import DistBackendError

__all__ = ["all_reduce", "broadcast", "reduce", "all_gather", "all_gather_into_tensor", "gather", "scatter",
           "reduce_scatter", "reduce_scatter_tensor", "all_to_all", "all_to_all_single", "barrier",
           "monitored_barrier"]


# ---------------------------------------------------------------------------------------- tensors
def _check_device(pg, t):
    if pg._backend == "nccl" and t.device.type == "cpu":
        raise RuntimeError("No backend type associated with device type cpu")


def _host(t):
    """A contiguous host copy of ``t``'s values."""
    return np.array(t.detach()._host(), copy=True, order="C")


def _write(t, arr):
    """Write ``arr`` into ``t`` in place (collectives bypass autograd, as c10d's do)."""
    src = _F["from_numpy"](np.ascontiguousarray(arr).reshape(t.shape))
    with no_grad():
        t.copy_(src)


def _describe(arrs):
    return ", ".join(f"rank {r} has shape {list(a.shape)} and dtype {a.dtype}" for r, a in enumerate(arrs))


def _check_same(opname, arrs):
    a0 = arrs[0]
    if any(a.shape != a0.shape or a.dtype != a0.dtype for a in arrs):
        raise DistBackendError(f"{opname}: the tensors differ across ranks: {_describe(arrs)}")


def _check_op(op, dtype, opname="all_reduce"):
    """PyTorch's errors for a reduction a dtype does not support (raised before any message is sent)."""
    if not isinstance(op, ReduceOp.RedOpType):
        raise TypeError(f"op must be a ReduceOp, got {op!r}")
    if getattr(dtype, "is_complex", False):
        if op not in (ReduceOp.SUM, ReduceOp.AVG):
            raise ValueError(f"{opname} does not support {op} on complex tensors")
        return op
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.is_floating_point:
        raise RuntimeError(f"Cannot use ReduceOp.{op.name} with non-integral dtype")
    if op is ReduceOp.AVG and not dtype.is_floating_point:
        raise RuntimeError(f"result type Float can't be cast to the desired output type {D.scalar_name(dtype)}")
    return op


_BINARY = {ReduceOp.SUM: np.add, ReduceOp.AVG: np.add, ReduceOp.PRODUCT: np.multiply, ReduceOp.MIN: np.minimum,
           ReduceOp.MAX: np.maximum, ReduceOp.BAND: np.bitwise_and, ReduceOp.BOR: np.bitwise_or,
           ReduceOp.BXOR: np.bitwise_xor}


def _reduce(arrs, op):
    """Combine the ranks' arrays in rank order (the same order, hence the same bits, on every rank)."""
    f = _BINARY[op]
    out = arrs[0].copy()
    with np.errstate(all="ignore"):   # overflow to inf (or wrap-around) without a warning, as PyTorch
        for a in arrs[1:]:
            f(out, a, out=out)   # bool: add is logical or, multiply logical and (gloo's results)
        if op is ReduceOp.AVG:
            out = (out / out.dtype.type(len(arrs))).astype(out.dtype)
    return out


def _pg_or_warn(group, opname):
    pg = _resolve(group)
    if pg is None:
        _warn_not_in_group(opname)
    return pg


def _others(pg):
    me = pg.rank()
    return [r for r in range(pg.size()) if r != me]


def _all_arrays(pg, key, opname, a):
    """Every rank's array, in group-rank order (a direct exchange between all pairs)."""
    me = pg.rank()
    got = pg._exchange(key, opname, {r: a for r in _others(pg)}, _others(pg))
    got[me] = a
    return [got[r] for r in range(pg.size())]


# ---------------------------------------------------------------------------------------- reductions
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` across the group with ``op``; every rank gets the result in ``tensor``.

    Example::

        >>> # on 2 ranks, x = tensor([rank + 1.])
        >>> # all_reduce(x)  -> x == tensor([3.]) on both
    """
    pg = _pg_or_warn(group, "all_reduce")
    if pg is None:
        return None
    _check_device(pg, tensor)
    op = _check_op(op, tensor.dtype, "all_reduce")

    def body(key):
        arrs = _all_arrays(pg, key, "all_reduce", _host(tensor))
        _check_same("all_reduce", arrs)
        _write(tensor, _reduce(arrs, op))
    return pg._submit("all_reduce", body, async_op, [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` across the group into rank ``dst``'s ``tensor``; the others' are unchanged."""
    pg = _pg_or_warn(group, "reduce")
    if pg is None:
        return None
    _check_device(pg, tensor)
    op = _check_op(op, tensor.dtype, "reduce")
    root = _group_rank_of(pg, dst, group_dst, "dst")

    def body(key):
        a = _host(tensor)
        if pg.rank() != root:
            pg._exchange(key, "reduce", {root: a}, [])
            return
        got = pg._exchange(key, "reduce", {}, _others(pg))
        got[root] = a
        arrs = [got[r] for r in range(pg.size())]
        _check_same("reduce", arrs)
        _write(tensor, _reduce(arrs, op))
    return pg._submit("reduce", body, async_op, [tensor])


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    pg = _pg_or_warn(group, "broadcast")
    if pg is None:
        return None
    _check_device(pg, tensor)
    root = _group_rank_of(pg, src, group_src, "src")

    def body(key):
        if pg.rank() == root:
            pg._exchange(key, "broadcast", {r: _host(tensor) for r in _others(pg)}, [])
            return
        a = pg._exchange(key, "broadcast", {}, [root])[root]
        if a.size != tensor.numel():
            raise DistBackendError(f"broadcast: rank {pg._global(root)} sent {a.size} elements ({list(a.shape)}), "
                                   f"this rank's tensor has {tensor.numel()} ({list(tensor.shape)})")
        _write(tensor, a.astype(tensor.dtype.np, copy=False))
    return pg._submit("broadcast", body, async_op, [tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Rank ``r`` gets in ``output`` the reduction over ranks of their ``input_list[r]``."""
    pg = _pg_or_warn(group, "reduce_scatter")
    if pg is None:
        return None
    _check_device(pg, output)
    op = _check_op(op, output.dtype, "reduce_scatter")
    if len(input_list) != pg.size():
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors, expected {pg.size()}")

    def body(key):
        me = pg.rank()
        parts = [_host(t) for t in input_list]
        got = pg._exchange(key, "reduce_scatter", {r: parts[r] for r in _others(pg)}, _others(pg))
        got[me] = parts[me]
        arrs = [got[r] for r in range(pg.size())]
        _check_same("reduce_scatter", arrs)
        _write(output, _reduce(arrs, op))
    return pg._submit("reduce_scatter", body, async_op, [output])


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """``reduce_scatter`` of ``input`` split into ``world_size`` equal chunks along dim 0 (or of its
    flat elements when ``input`` is the concatenation of ``world_size`` outputs)."""
    pg = _pg_or_warn(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    if input.numel() != output.numel() * pg.size():
        raise ValueError(f"reduce_scatter_tensor: input tensor must be the same size as output size times world "
                         f"size, got {input.numel()} and {output.numel()} x {pg.size()}")
    n = output.numel()
    parts = [input.reshape(-1)[i * n:(i + 1) * n] for i in range(pg.size())]
    return reduce_scatter(output, parts, op, group, async_op)


# ---------------------------------------------------------------------------------------- gathers
def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` receives rank ``r``'s ``tensor``, on every rank."""
    pg = _pg_or_warn(group, "all_gather")
    if pg is None:
        return None
    _check_device(pg, tensor)
    if len(tensor_list) != pg.size():
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, expected {pg.size()}")

    def body(key):
        arrs = _all_arrays(pg, key, "all_gather", _host(tensor))
        for t, a in zip(tensor_list, arrs):
            if a.size != t.numel():
                raise DistBackendError(f"all_gather: output tensors must match the inputs: {_describe(arrs)}")
            _write(t, a.astype(t.dtype.np, copy=False))
    return pg._submit("all_gather", body, async_op, list(tensor_list))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Rank ``r``'s ``input_tensor`` lands in the ``r``-th of ``world_size`` equal chunks of
    ``output_tensor`` (concatenated along dim 0, or stacked along a new dim 0)."""
    pg = _pg_or_warn(group, "all_gather_into_tensor")
    if pg is None:
        return None
    if output_tensor.numel() != input_tensor.numel() * pg.size():
        raise ValueError(f"all_gather_into_tensor: output tensor size must be equal to world_size times input "
                         f"tensor size, got {output_tensor.numel()} and {input_tensor.numel()} x {pg.size()}")
    _check_device(pg, input_tensor)

    def body(key):
        arrs = _all_arrays(pg, key, "all_gather_into_tensor", _host(input_tensor))
        _check_same("all_gather_into_tensor", arrs)
        _write(output_tensor, np.concatenate([a.reshape(-1) for a in arrs]))
    return pg._submit("all_gather_into_tensor", body, async_op, [output_tensor])


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """Rank ``dst``'s ``gather_list[r]`` receives rank ``r``'s ``tensor``; the others pass no list."""
    pg = _pg_or_warn(group, "gather")
    if pg is None:
        return None
    _check_device(pg, tensor)
    root = _group_rank_of(pg, dst, group_dst, "dst")
    if pg.rank() == root:
        if gather_list is None or len(gather_list) != pg.size():
            raise ValueError(f"gather: the destination rank needs a gather_list of {pg.size()} tensors")
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")

    def body(key):
        a = _host(tensor)
        if pg.rank() != root:
            pg._exchange(key, "gather", {root: a}, [])
            return
        got = pg._exchange(key, "gather", {}, _others(pg))
        got[root] = a
        for r, t in enumerate(gather_list):
            _write(t, got[r].astype(t.dtype.np, copy=False))
    return pg._submit("gather", body, async_op, list(gather_list or []))


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """Rank ``r``'s ``tensor`` receives rank ``src``'s ``scatter_list[r]``."""
    pg = _pg_or_warn(group, "scatter")
    if pg is None:
        return None
    _check_device(pg, tensor)
    root = _group_rank_of(pg, src, group_src, "src")
    if pg.rank() == root:
        if scatter_list is None or len(scatter_list) != pg.size():
            raise ValueError(f"scatter: the source rank needs a scatter_list of {pg.size()} tensors")
    elif scatter_list:
        raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")

    def body(key):
        if pg.rank() == root:
            pg._exchange(key, "scatter", {r: _host(scatter_list[r]) for r in _others(pg)}, [])
            a = _host(scatter_list[root])
        else:
            a = pg._exchange(key, "scatter", {}, [root])[root]
        _write(tensor, a.astype(tensor.dtype.np, copy=False))
    return pg._submit("scatter", body, async_op, [tensor])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """Rank ``r`` sends ``input_tensor_list[j]`` to rank ``j``, which stores it in ``output_tensor_list[r]``."""
    pg = _pg_or_warn(group, "all_to_all")
    if pg is None:
        return None
    n = pg.size()
    if len(input_tensor_list) != n or len(output_tensor_list) != n:
        raise ValueError(f"all_to_all: the input and output lists need {n} tensors each")

    def body(key):
        me = pg.rank()
        got = pg._exchange(key, "all_to_all", {r: _host(input_tensor_list[r]) for r in _others(pg)}, _others(pg))
        got[me] = _host(input_tensor_list[me])
        for r, t in enumerate(output_tensor_list):
            if got[r].size != t.numel():
                raise DistBackendError(f"all_to_all: rank {pg._global(r)} sent {got[r].size} elements, the output "
                                       f"tensor {r} has {t.numel()}")
            _write(t, got[r].astype(t.dtype.np, copy=False))
    return pg._submit("all_to_all", body, async_op, list(output_tensor_list))


def _split(t, sizes, n, what):
    if sizes is None or len(sizes) == 0:
        if t.shape[0] % n:
            raise ValueError(f"all_to_all_single: {what} dim 0 ({t.shape[0]}) is not divisible by the group size {n}")
        sizes = [t.shape[0] // n] * n
    if len(sizes) != n or sum(sizes) != t.shape[0]:
        raise ValueError(f"all_to_all_single: {what} split sizes {list(sizes)} don't sum to dim 0 ({t.shape[0]})")
    offs = np.cumsum([0] + list(sizes))
    return [t[int(offs[i]):int(offs[i + 1])] for i in range(n)]


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    """``all_to_all`` of ``input`` split along dim 0 (equal chunks, or ``input_split_sizes``) into
    ``output`` split the same way."""
    pg = _pg_or_warn(group, "all_to_all_single")
    if pg is None:
        return None
    n = pg.size()
    return all_to_all(_split(output, output_split_sizes, n, "output"), _split(input, input_split_sizes, n, "input"),
                      group, async_op)


# ---------------------------------------------------------------------------------------- barriers
def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of the group has reached this call."""
    pg = _pg_or_warn(group, "barrier")
    if pg is None:
        return None

    def body(key):
        pg._exchange(key, "barrier", {r: None for r in _others(pg)}, _others(pg))
    return pg._submit("barrier", body, async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    """A barrier in which rank 0 names the ranks that did not arrive within ``timeout``
    (``wait_all_ranks``: all of them, else the first)."""
    pg = _pg_or_warn(group, "monitored_barrier")
    if pg is None:
        return None
    from .distributed_c10d import _secs
    secs = pg._timeout if timeout is None else _secs(timeout)

    def body(key):
        me, others = pg.rank(), _others(pg)
        if me != 0:
            pg._exchange(key, "monitored_barrier", {0: None}, [])
            try:
                pg._exchange(key, "monitored_barrier", {}, [0], timeout=secs)
            except DistBackendError:
                raise DistBackendError(f"[Rank {pg._global(me)}]: monitored_barrier timed out after "
                                       f"{int(secs * 1000)} ms waiting for rank 0") from None
            return
        missing = []
        for r in others:
            try:
                pg._exchange(key, "monitored_barrier", {}, [r], timeout=secs if not missing else 0.01)
            except DistBackendError:
                missing.append(pg._global(r))
                if not wait_all_ranks:
                    break
        if missing:
            who = (f"Ranks {', '.join(map(str, missing))}" if len(missing) > 1 else f"Rank {missing[0]}")
            raise DistBackendError(f"[Rank 0]: {who} failed to pass monitoredBarrier in {int(secs * 1000)} ms")
        pg._exchange(key, "monitored_barrier", {r: None for r in others}, [])
    return pg._submit("monitored_barrier", body, False)


# ---------------------------------------------------------------------------------------- host arrays
def _all_reduce_array(pg, a, op=ReduceOp.SUM):
    """``all_reduce`` of a host array (DDP's flattened gradients): the reduced array, on every rank."""
    out = []

    def body(key):
        arrs = _all_arrays(pg, key, "all_reduce", a)
        _check_same("all_reduce", arrs)
        out.append(_reduce(arrs, op))
    pg._submit("all_reduce", body, False)
    return out[0]


def _broadcast_array(pg, a, root=0):
    """``broadcast`` of a host array from group rank ``root``: its array, on every rank."""
    out = [a]

    def body(key):
        if pg.rank() == root:
            pg._exchange(key, "broadcast", {r: a for r in _others(pg)}, [])
        else:
            out[0] = pg._exchange(key, "broadcast", {}, [root])[root]
    pg._submit("broadcast", body, False)
    return out[0]
