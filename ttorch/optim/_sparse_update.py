"""Updates of a dense parameter from a sparse COO gradient, on the rows the gradient has: the sparse
paths of ``SGD`` and ``Adagrad`` (PyTorch's ``_single_tensor_*`` formulas for a sparse ``grad``), and the
row helpers ``SparseAdam`` shares. Written in ttorch ops, so they run on both devices; a coalesced
gradient names each row once, so ``index_add_`` there is ``p[rows] += update`` as PyTorch's
``param.add_(sparse)``."""
from .._tensor import _numel

__all__ = ["rows_of", "entries", "sgd_step", "adagrad_step"]


def rows_of(t, sparse_dim):
    """A view of dense ``t`` as (rows over its first ``sparse_dim`` dims, *the other dims)."""
    return t.view((_numel(t.shape[:sparse_dim]),) + tuple(t.shape[sparse_dim:]))


def entries(grad):
    """(row of each entry, values) of ``grad`` as given (duplicates kept), rows as in ``rows_of``."""
    from .._sparse import _keys
    sd = grad.sparse_dim()
    return _keys(grad._ind, grad.shape[:sd]), grad._val


def add_(p, grad, alpha=1.0):
    """``p += alpha * grad`` in place, ``grad`` sparse (its duplicate entries each added)."""
    keys, vals = entries(grad)
    if vals.dtype is not p.dtype:
        vals = vals.to(p.dtype)
    rows_of(p, grad.sparse_dim()).index_add_(0, keys, vals, alpha=alpha)


def sgd_step(p, grad, state, group, lr):
    """PyTorch's SGD for a sparse gradient: the momentum buffer is sparse too; weight decay raises
    as there (``grad.add(param)`` is sparse + dense)."""
    if group["weight_decay"] != 0:
        raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")
    g = -grad if group["maximize"] else grad
    momentum = group["momentum"]
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = g.clone().detach()
        else:       # coalesced, so the buffer keeps one entry per row however many steps it sees
            buf = (buf * momentum + g * (1 - group["dampening"])).coalesce()
        state["momentum_buffer"] = buf
        g = g + buf * momentum if group["nesterov"] else buf
    add_(p, g, -lr)


def adagrad_step(p, grad, state, group, lr, step):
    """PyTorch's Adagrad for a sparse gradient: ``sum`` and ``p`` change on the gradient's rows only."""
    if group["weight_decay"] != 0:
        raise RuntimeError("weight_decay option is not compatible with sparse gradients")
    g = (-grad if group["maximize"] else grad).coalesce()
    clr = lr / (1 + (step - 1) * group["lr_decay"])
    keys, vals = entries(g)
    sums = rows_of(state["sum"], g.sparse_dim())
    sums.index_add_(0, keys, vals.pow(2))
    std = sums.index_select(0, keys).sqrt() + group["eps"]
    rows_of(p, g.sparse_dim()).index_add_(0, keys, vals / std, alpha=-clr)
