"""Forward-mode AD: dual tensors carry a tangent through every op run inside a dual level.

PyTorch's ``torch.autograd.forward_ad``. Inside ``with dual_level():``, ``make_dual(x, t)`` gives a
tensor whose tangent is ``t``; each op an input with a tangent goes through gives its outputs the
Jacobian-vector product as their tangents (``_jvp.py``: the rules), and ``unpack_dual`` reads it
back. Tangents follow views (the tangent of a view is the same view of its base's tangent) and
in-place ops (an in-place op writes the new tangent into the old one's memory, so every view sees
it). Forward and reverse mode compose: tangents are computed with ordinary ops, so they can be
differentiated backward, and a backward pass run inside a level gives its gradients tangents
(forward-over-reverse: Hessian-vector products).

One level at a time, as in PyTorch. When no level is active an op pays one test of a module
global (``ops._op._forward_ad``).

Example::

    >>> import ttorch.autograd.forward_ad as fwAD
    >>> x = ttorch.tensor([0., 1.])
    >>> with fwAD.dual_level():
    ...     y = fwAD.make_dual(x, ttorch.ones(2)).sin()
    ...     [round(v, 4) for v in fwAD.unpack_dual(y).tangent.tolist()]
    [1.0, 0.5403]
"""
import collections
import weakref

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual", "dual_level"]

# The active level: a fresh token per ``enter_dual_level`` (None: no level). A tangent is stored on
# its tensor as ``_fw_grad = (token, tangent)``; a stale token is as good as no tangent, and
# ``_tracked`` (weak references to the tensors given one) lets ``exit_dual_level`` free them.
_token = None
_tracked = []
_prune_at = [4096]


class UnpackedDualTensor(collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])):
    r"""What :func:`unpack_dual` returns: ``primal`` (a view of the dual tensor's values, with no
    tangent) and ``tangent`` (None if it has none at that level)."""

    __slots__ = ()


def _ops():
    from ..ops import _op
    return _op


def enter_dual_level():
    """Enter a new forward-grad level and return its index (0: only one level at a time)."""
    global _token
    if _token is not None:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    from . import _jvp
    if not _jvp.installed:
        _jvp.install()
    _token = object()
    _ops()._forward_ad = _jvp.propagate
    return 0


def exit_dual_level(*, level=None):
    """Exit the forward-grad level ``level`` (default: the current one); every tangent made in it
    is dropped."""
    global _token
    current = 0 if _token is not None else -1
    if level is None:
        level = current
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    if level != current:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. This is "
                           "not supported.")
    _token = None
    _ops()._forward_ad = None
    for r in _tracked:
        t = r()
        if t is not None and "_fw_grad" in t.__dict__:
            del t._fw_grad
    _tracked.clear()


class dual_level:
    r"""Context manager for forward AD: tangents exist only inside it.

    Example::

        >>> import ttorch.autograd.forward_ad as fwAD
        >>> with fwAD.dual_level():
        ...     d = fwAD.make_dual(ttorch.tensor([2.]), ttorch.tensor([1.]))
        ...     fwAD.unpack_dual(d * d).tangent
        tensor([4.])
    """

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()


def _check_level(level, fn):
    if level is None:
        level = 0 if _token is not None else -1
    elif level != 0 or _token is None:
        raise RuntimeError(f"Invalid level given to {fn}")
    return level


def make_dual(tensor, tangent, *, level=None):
    r"""A dual tensor: a view of ``tensor`` whose tangent at ``level`` is ``tangent``.

    Args:
        tensor (Tensor): the primal, floating point.
        tangent (Tensor): the tangent, floating point, of the primal's shape and device; kept as
            given (a float64 tangent of a float32 primal stays float64, as in PyTorch).
        level (int, optional): the dual level (default: the current one).

    Complex primals take complex tangents (a real tangent gets zero imaginary parts). Differs from PyTorch:
    a complex tangent of a real primal raises ``NotImplementedError``.
    """
    if level is None and _token is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    _check_level(level, "_make_dual")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tangent.is_complex() and not tensor.is_complex():
        raise NotImplementedError("ttorch's forward-mode AD does not support a complex tangent of a real primal")
    if tensor.is_complex() and not tangent.is_complex():
        tangent = tangent.to(tangent.dtype.to_complex())      # (zero imaginary parts)
    if tangent._shape != tensor._shape:
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if tangent.device != tensor.device:
        raise RuntimeError(f"Expected tangent to be on the same device as the primal, {tensor.device}, but got "
                           f"{tangent.device}")
    if _tangent(tensor) is not None:
        raise RuntimeError("Making a dual Tensor based on a Tensor that already has a forward gradient at the same "
                           "level 0 is not supported.")
    with _suspended():
        dual = tensor.view_as(tensor)       # differentiable backward, as PyTorch's _make_dual
    _set(dual, tangent)
    return dual


def unpack_dual(tensor, *, level=None):
    r"""``(primal, tangent)`` of a dual tensor as an :class:`UnpackedDualTensor`; ``tangent`` is None
    when ``tensor`` has none at ``level`` (or no level is active)."""
    level = _check_level(level, "_fw_primal")
    if level < 0 or _ops()._forward_ad is None:     # (suspended: a custom Function's forward sees none)
        return UnpackedDualTensor(tensor, None)
    tangent = _tangent(tensor)
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    with _suspended():
        primal = tensor.view_as(tensor)
    primal._fw_grad = (_token, None)        # a view of a dual tensor that has no tangent of its own
    _tracked.append(weakref.ref(primal))
    return UnpackedDualTensor(primal, tangent)


# ----------------------------------------------------------------------------- tangents of tensors
def _tangent(t):
    """``t``'s tangent at the active level, or None. A view without one of its own sees the same
    view of its base's tangent (which has the base's layout: see ``_set``)."""
    _no_batched(t)
    fw = t.__dict__.get("_fw_grad")
    if fw is not None and fw[0] is _token:
        return fw[1]
    base = t._base
    if base is not None:
        fw = base.__dict__.get("_fw_grad")
        if fw is not None and fw[0] is _token and fw[1] is not None:
            bt = fw[1]
            if bt.dtype.is_complex != t.dtype.is_complex:
                return _across(bt, t, base)
            return bt._view(t._shape, t.stride(), bt._offset + t._offset - base._offset)
    return None


def _across(bt, t, base):
    """The tangent of ``t``, a real view of a complex base (``view_as_real``, ``.real``) or a complex view
    of a real one (``view_as_complex``): the same geometry over the base tangent's storage, reinterpreted."""
    from ..ops.complex import _reinterp
    if bt.dtype.is_complex:       # offsets and strides of t count reals; the base's count complex numbers
        return _reinterp(bt, bt.dtype.to_real(), t._shape, t.stride(), 2 * bt._offset + t._offset - 2 * base._offset)
    return _reinterp(bt, bt.dtype.to_complex(), t._shape, t.stride(), (bt._offset - base._offset) // 2 + t._offset)


def _no_batched(t):
    # tangents live on plain tensors (a BatchedTensor's value carries its own): vmap runs such a call per sample
    if "_level" in t.__dict__:
        raise RuntimeError("vmap: forward-mode AD of a BatchedTensor (vmap runs the function per sample)")


def _set(t, tangent):
    """Give ``t`` the tangent ``tangent``, in ``t``'s layout (copied where its strides differ), so
    that views of ``t`` find theirs by their geometry."""
    _no_batched(t)
    if tangent is not None and (tangent.stride() != t.stride() or tangent.device != t.device):
        from ..ops.elementwise import copy_into
        tangent = copy_into(_like(t, tangent.dtype), tangent)
    fw = t.__dict__.get("_fw_grad")
    if fw is None or fw[0] is not _token:
        _tracked.append(weakref.ref(t))
        if len(_tracked) > _prune_at[0]:      # a long loop inside one level: drop the dead references
            _tracked[:] = [r for r in _tracked if r() is not None]
            _prune_at[0] = 2 * len(_tracked) + 4096
    t._fw_grad = (_token, tangent)


def _like(t, dtype):
    """An uninitialized tensor with ``t``'s shape and strides (its storage sized to reach them)."""
    import ttorch
    span = 0 if 0 in t._shape else 1 + sum((n - 1) * st for n, st in zip(t._shape, t.stride()))
    return ttorch.empty(span, dtype=dtype, device=t.device).as_strided(t._shape, t.stride())


class _suspended:
    """Run ops without tangents of the active level (a rule's own ops, a Function's forward)."""

    def __enter__(self):
        op = _ops()
        self.saved = op._forward_ad
        op._forward_ad = None

    def __exit__(self, *exc):
        _ops()._forward_ad = self.saved


def _carry(src, dst):
    """``dst`` (a detached copy of ``src`` made by a transform) takes ``src``'s tangent: ``detach``
    drops it, as in PyTorch, but a transform's own copies must not."""
    if _token is not None:
        t = _tangent(src)
        if t is not None:
            _set(dst, t)
    return dst


def _columns(fn, inputs):
    """A forward-mode Jacobian: ``fn(*inputs)`` (a list of tensors) runs once per element of each
    input, with a tangent of 1 there. Returns the outputs and ``jac[i][k]``, output ``i``'s
    derivative with respect to input ``k``, of shape ``outputs[i].shape + inputs[k].shape``."""
    import ttorch
    outs, per_input = None, []
    for k, x in enumerate(inputs):
        n = x.numel()
        basis = ttorch.eye(n, dtype=x.dtype, device=x.device) if n else None
        cols = []
        for j in range(n):
            with dual_level():
                args = list(inputs)
                args[k] = make_dual(x, basis[j].reshape(x._shape))
                outs = fn(*args)
                cols.append([_tangent_or_zeros(o) for o in outs])
        per_input.append(cols)
    if outs is None:            # no input has an element
        outs = fn(*inputs)
    return outs, [[ttorch.stack([c[i] for c in cols], dim=-1).reshape(o._shape + x._shape) if cols else
                   ttorch.zeros(o._shape + x._shape, dtype=o.dtype, device=o.device)
                   for cols, x in zip(per_input, inputs)] for i, o in enumerate(outs)]


def _tangent_or_zeros(o):
    t = _tangent(o)
    if t is None:
        from ..ops.creation import zeros_like
        t = zeros_like(o)
    return t


def tracks(*tensors):
    """Whether an in-place write into ``tensors[0]`` (from the others) must go through its op so
    that tangents follow: a level is active and one of them has a tangent."""
    if _token is None:
        return False
    from .._tensor import Tensor
    return any(type(t) is Tensor and _tangent(t) is not None for t in tensors)


def written(x, result):
    """``result`` was just written into ``x`` in place: ``x``'s tangent becomes ``result``'s (zero
    when it has none), written into the memory of ``x``'s old tangent (or of a new zero tangent
    of ``x``'s base), so the views of ``x`` and of its base see the change, as in PyTorch."""
    if _token is None:
        return
    new = _tangent(result)
    cur = _tangent(x)
    from ..ops.elementwise import copy_into
    with _suspended():
        if cur is None:
            if new is None:
                return
            base = x._base
            if base is None:
                _set(x, new)
                return
            bt = _like(base, new.dtype)
            copy_into(bt, 0)
            _set(base, bt)
            if "_fw_grad" in x.__dict__:
                del x._fw_grad
            cur = _tangent(x)
        if new is not None and new.untyped_storage() is cur.untyped_storage():
            new = new.clone()               # (a view of the old tangent: read it before writing)
        copy_into(cur, 0 if new is None else new)
