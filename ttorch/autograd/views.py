"""In-place ops on views, as PyTorch does them: ``CopySlices`` and view replay.

A view knows its base (``_base``: the tensor that owns the memory) and how it was made
(``_creation``: PyTorch's CreationMeta, None for the default). When autograd records an
in-place op on a view ``v`` of ``base``, the op changed ``base`` too, so the base's history
is rewritten:

    base.grad_fn = CopySlices(base's old history, the in-place op's result)

Its backward passes the gradient through for the elements outside ``v`` and routes ``v``'s
elements into the in-place op's backward. Then ``v`` and every other live view of ``base``
get a ``grad_fn`` replayed from the new history: ``AsStridedBackward0``, since a strided
view is always ``as_strided(base, size, stride, offset)``. PyTorch replays lazily, when
``grad_fn`` is read after the version counter moved; ttorch replays at once, from weak
references to the views that the view ops register on their base (``track``).

Ops that make no view pay nothing for this: the in-place path checks ``x._base`` and
``x._views``, two class attributes that stay None.
"""
import weakref

import numpy as np

from . import grad_mode
from .._tensor import Tensor, _numel
from ..ops._op import Op

NO_GRAD = ("no_grad", None, 0)       # _creation of a view made in no_grad mode
_ref = weakref.ref


# ----------------------------------------------------------------------------- registering views
def track(src, out):
    """Register ``out``, a view of ``src`` just made by a view op, with its base; returns ``out``.

    A view made in no_grad mode of a base that requires grad reports ``requires_grad=True``
    with no ``grad_fn`` and passes no gradient on, as in PyTorch.
    """
    base = out._base
    views = base._views
    if views is None:
        base._views = [_ref(out)]      # a plain list: this runs for every view a view op makes
    else:
        views.append(_ref(out))
        if len(views) > 16 and len(views) > 2 * base._views_live:
            views[:] = [r for r in views if r() is not None]
            base._views_live = len(views)
    if not grad_mode._state["enabled"]:
        out._creation = NO_GRAD
        if base.requires_grad:
            out.requires_grad = True
            out._grad_via_base = True
    elif src._creation is not None:
        out._creation = (src._creation[0], None, 0)    # a view of a special view is special too
    return out


def _live(views):
    return [t for t in (r() for r in views) if t is not None]


def untrack(out):
    """``out`` was made as a view of a temporary (``reshape`` after a copy): not a view after all."""
    out._base = None
    out._creation = None
    out._grad_via_base = False
    return out


def mark_multi_output(views, name):
    """Outputs of ``unbind``/``split``/``chunk`` may not be modified in place under autograd."""
    if grad_mode._state["enabled"]:
        for i, v in enumerate(views):
            v._creation = ("multi", name, i)
    return views


# ----------------------------------------------------------------------------- errors
_MULTI = (" This view is the output of a function that returns multiple views. Such functions do not allow the "
          "output views to be modified inplace. You should replace the inplace operation by an out-of-place one.")
_NO_GRAD = (" Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
            "moving both the view and the inplace either both inside the no_grad block (if you don't want the "
            "inplace to be tracked) or both outside (if you want the inplace to be tracked).")
_OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
            "location. Please clone() the tensor before performing the operation.")


def _rebase_message(view, creation, indirect):
    """PyTorch's message for an in-place change of a view that may not be modified in place."""
    kind, name, nr = creation
    fn = view.grad_fn
    what = "its base or another view of its base has been" if indirect else "is being"
    if kind == "no_grad" or fn is None:
        prefix = (f"Output {nr} of {name or fn.name()} is a view of a view which was created in" if fn is not None
                  else "A view was created in")
        msg = f"{prefix} no_grad mode and {what} modified inplace with grad mode enabled."
    else:
        msg = f"Output {nr} of {name or fn.name()} is a view and {what} modified inplace."
    return msg + (_MULTI if kind == "multi" else _NO_GRAD)


def check_view_inplace(x):
    """Before an in-place op on view ``x`` that autograd would record: PyTorch's refusals."""
    if x._creation is not None:
        raise RuntimeError(_rebase_message(x, x._creation, indirect=False))
    if x.requires_grad and x._base.is_leaf:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if _overlaps(x._shape, x.stride()):
        raise RuntimeError(_OVERLAP)


# ----------------------------------------------------------------------------- rebasing history
def rebase_view(x, result):
    """``result`` (recorded, ``x``'s dtype) was just written into view ``x``: ``x``'s base takes a
    ``CopySlices`` node and its views are replayed from it."""
    base = x._base
    _COPY_SLICES._record((base, result), {"geom": _Geometry(base, x)}, base)
    replay_views(base, x)


def replay_views(base, target=None):
    """Give ``target`` and each live view of ``base`` a ``grad_fn`` replayed from ``base``'s history."""
    views = base._views
    if views is not None:
        for w in _live(views):
            if w is not target:
                _replay(w, base, indirect=True)
    if target is not None:
        _replay(target, base, indirect=False)


def _replay(w, base, indirect):
    attrs = {"geom": _Geometry(base, w), "error": None}
    if indirect and w._creation is not None:
        # PyTorch raises when such a view's grad_fn is next read; ttorch when backward reaches it
        attrs["error"] = _rebase_message(w, w._creation, indirect=True)
    _VIEW._record((base,), attrs, w)
    w._grad_via_base = False


# ----------------------------------------------------------------------------- geometry
def _overlaps(size, stride):
    """Whether two elements of the strided layout may share memory (PyTorch's overlap test)."""
    span = 0
    for st, s in sorted((st, s) for s, st in zip(size, stride) if s > 1):
        if st <= span:
            return True
        span += (s - 1) * st
    return False


def _positions(size, stride, offset):
    p = np.full(size, offset, dtype=np.int64)
    for d, (s, st) in enumerate(zip(size, stride)):
        p += (np.arange(s, dtype=np.int64) * st).reshape([s if i == d else 1 for i in range(len(size))])
    return p


class _Geometry:
    """Where a view's elements sit in its base, in sizes/strides/offsets (no tensor is held).

    ``contig``: the base is contiguous and holds the view, so the view is a strided view of
    any contiguous base-shaped tensor; otherwise ``index`` maps view elements to base elements.
    """

    __slots__ = ("base_shape", "size", "stride", "rel", "contig", "overlap", "_base_stride", "_base_offset",
                 "_offset", "_idx")

    def __init__(self, base, view):
        self.base_shape, self._base_stride, self._base_offset = base._shape, base.stride(), base._offset
        self.size, self.stride, self._offset = view._shape, view.stride(), view._offset
        self.rel = view._offset - base._offset
        n = _numel(self.size)
        last = self.rel + sum((s - 1) * st for s, st in zip(self.size, self.stride))
        self.contig = base.is_contiguous() and (n == 0 or (self.rel >= 0 and last < base.numel()))
        self.overlap = _overlaps(self.size, self.stride)
        self._idx = None

    def index(self, device):
        """Per view element, the row-major index of the base element it is (an int64 tensor)."""
        if self._idx is None:
            pos = _positions(self.size, self.stride, self._offset)
            bpos = _positions(self.base_shape, self._base_stride, self._base_offset).reshape(-1)
            order = np.argsort(bpos, kind="stable")
            sb = bpos[order]
            loc = np.minimum(np.searchsorted(sb, pos), max(sb.size - 1, 0))
            if pos.size and (sb.size == 0 or not np.array_equal(sb[loc], pos)):
                raise RuntimeError("a view modified in place reaches memory outside its base")
            self._idx = {}
            self._idx[None] = Tensor._wrap_np(order[loc].astype(np.int64).reshape(-1))
        t = self._idx.get(device)
        if t is None:
            t = self._idx[device] = self._idx[None].to(device)
        return t


# ----------------------------------------------------------------------------- the three ops
# Each takes or gives a tensor shaped like the base; their backward rules use each other, so
# gradients through CopySlices can be differentiated again (create_graph=True).
def _raw_flat(t):
    return t._view((t.numel(),), (1,), t._offset)


def _view_impl(b, *, geom, error=None):
    from ..ops.movement import contiguous
    with grad_mode.no_grad():
        if geom.contig:
            c = contiguous(b)
            return c._view(geom.size, geom.stride, c._offset + geom.rel)
        return _raw_flat(contiguous(b))[geom.index(b.device)].reshape(geom.size)


def _view_bw(ctx, g):
    error = getattr(ctx, "error", None)
    if error is not None:
        raise RuntimeError(error)
    return _VIEW_GRAD(g, geom=ctx.geom)


def _view_grad_impl(g, *, geom):
    from ..ops.creation import zeros
    from ..ops.elementwise import copy_into
    with grad_mode.no_grad():
        z = zeros(geom.base_shape, dtype=g.dtype, device=g.device)
        if geom.contig and not geom.overlap:
            copy_into(z._view(geom.size, geom.stride, geom.rel), g)
        else:   # elements seen more than once sum their gradients
            _raw_flat(z).index_put_((geom.index(g.device),), g.reshape(-1), accumulate=True)
    return z


def _copy_slices_impl(b, src, *, geom):
    from ..ops.elementwise import copy_into
    with grad_mode.no_grad():
        out = copy_into(Tensor._empty(geom.base_shape, b.dtype, b.device), b)
        if geom.contig:
            copy_into(out._view(geom.size, geom.stride, geom.rel), src)
        else:
            _raw_flat(out).index_put_((geom.index(b.device),), src.reshape(-1))
    return out


def _copy_slices_bw(ctx, g):
    from ..ops.creation import zeros
    geom = ctx.geom
    gb = _COPY_SLICES(g, zeros(geom.size, dtype=g.dtype, device=g.device), geom=geom) if ctx.needs[0] else None
    return gb, (_VIEW(g, geom=geom) if ctx.needs[1] else None)


_VIEW = Op("as_strided_view", impl=_view_impl, backward=_view_bw, save=(), grad_name="AsStridedBackward0",
           family="view", doc="a view's elements taken from a base-shaped tensor: the replayed grad_fn of a view")
_VIEW_GRAD = Op("as_strided_view_grad", impl=_view_grad_impl, backward=lambda ctx, g: _VIEW(g, geom=ctx.geom),
                save=(), family="view", doc="zeros shaped like the base plus a view's gradient at its elements")
_COPY_SLICES = Op("copy_slices", impl=_copy_slices_impl, backward=_copy_slices_bw, save=(), grad_name="CopySlices",
                  family="view", doc="a base with a view's elements replaced: the node of an in-place op on a view")
