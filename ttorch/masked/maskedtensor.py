"""``MaskedTensor``: a tensor whose elements where its mask is False are "masked out" (unspecified).

Design: a ``MaskedTensor`` is a ``Tensor`` subclass holding two plain tensors of the same shape,
``_masked_data`` and ``_masked_mask`` (bool), with its shape, dtype and device. Not the exact type
``Tensor``, so every fast path written ``type(t) is Tensor`` skips it, and ``Op.__call__`` hands any op
given one to ``_dispatch.handle`` (registered in ``ops/_op.py``'s ``SUBCLASS_OPS``), which runs the op
on the data and gives the result its mask. Autograd lives on the data: a MaskedTensor's
``requires_grad``, ``grad_fn``, ``backward`` and ``grad`` are its data's (``grad`` a MaskedTensor with
this tensor's mask), so the ops run on the data record the graph as any ttorch op does.

Deliberate differences from PyTorch: ``.grad`` has this tensor's own mask (PyTorch's follows the
backward ops, which may mask out more) and holds 0 (not PyTorch's arbitrary values) at masked-out
elements; ``as_masked_tensor(x, mask)`` passes a plain gradient back to ``x``
(PyTorch a MaskedTensor); indexing and ``view`` of a MaskedTensor whose data or mask is not
contiguous copy them first (a MaskedTensor reports contiguous strides), and ``reshape`` of a transposed
one, ``permute``/``movedim``/``squeeze``/``.T`` work (PyTorch raises); ``ones_like``/
``zeros_like`` give plain tensors (PyTorch: a MaskedTensor / an error); ``mean`` of an integer MaskedTensor
raises ``ttorch.mean``'s RuntimeError (PyTorch: ValueError); sparse data is not supported.
"""
import warnings

from .. import _dtype as D
from .._layout import strided
from .._inner_autograd import AutogradOfInner
from .._tensor import Tensor

_SUPPORTED = (D.float16, D.float32, D.float64, D.bool, D.int8, D.int16, D.int32, D.int64)


def is_masked_tensor(obj, /):
    """True if ``obj`` is a ``MaskedTensor``."""
    return isinstance(obj, MaskedTensor)


def _wrap(data, mask):
    """A MaskedTensor over ``data`` and ``mask`` as they are (no copy, no check, no warning)."""
    t = Tensor.__new__(MaskedTensor)
    t._masked_data, t._masked_mask = data, mask
    t._shape, t.dtype, t.device = data._shape, data.dtype, data.device
    return t


def _validate(data, mask):
    if not isinstance(mask, Tensor) or type(data) is not type(mask):
        raise TypeError(f"data and mask must have the same type. Got {type(data)} and {type(mask)}")
    if mask.dtype is not D.bool:
        raise TypeError("mask must have dtype bool.")
    if data.dtype not in _SUPPORTED:
        raise TypeError(f"{data.dtype} is not supported in MaskedTensor.")
    if data.dim() != mask.dim():
        raise ValueError("data.dim() must equal mask.dim()")
    if data.shape != mask.shape:
        raise ValueError("data.size() must equal mask.size()")


class MaskedTensor(AutogradOfInner, Tensor):
    """``MaskedTensor(data, mask, requires_grad=False)``: ``data`` where ``mask`` is True, masked out
    elsewhere. Both are copied; ``mask`` is a bool tensor of ``data``'s shape.

    Example::

        >>> mt = ttorch.masked.masked_tensor(ttorch.tensor([1., 2., 3.]), ttorch.tensor([True, False, True]))
        >>> mt.sum()
        MaskedTensor(  4.0000, True)
    """

    _inner = "_masked_data"     # (autograd: that tensor's, ttorch/_inner_autograd.py)

    layout = strided
    is_sparse = False

    def __new__(cls, data, mask, requires_grad=False):
        if is_masked_tensor(data) or not isinstance(data, Tensor):
            raise TypeError("data must be a Tensor")
        if is_masked_tensor(mask) or not isinstance(mask, Tensor):
            raise TypeError("mask must be a Tensor")
        warnings.warn("The PyTorch API of MaskedTensors is in prototype stage and will change in the near future. "
                      "Please open a Github issue for features requests and see our documentation on the "
                      "torch.masked module for further information about the project.", UserWarning, stacklevel=2)
        if data.requires_grad:
            warnings.warn("It is not recommended to create a MaskedTensor with a tensor that requires_grad. To avoid "
                          "this, you can use data.detach().clone()", UserWarning, stacklevel=2)
        _validate(data, mask)
        from ..autograd import grad_mode
        with grad_mode.no_grad():
            t = _wrap(data.detach().clone(), mask.detach().clone())
        if requires_grad:
            t._masked_data.requires_grad_(True)
        return t

    def __init__(self, data, mask, requires_grad=False):
        pass        # (``__new__`` did the work; Tensor's ``__init__`` refuses to run)

    # ------------------------------------------------------------------ its parts
    def get_data(self):
        """The data tensor (values at masked-out elements unspecified), carrying this tensor's graph."""
        return self._masked_data

    def get_mask(self):
        return self._masked_mask

    def to_tensor(self, value):
        """A plain tensor: the data with masked-out elements set to ``value``."""
        return self._masked_data.masked_fill(self._masked_mask.logical_not(), value)

    def _set_data_mask(self, data, mask):
        _validate(data, mask)
        self._masked_data, self._masked_mask = data, mask
        self._shape, self.dtype, self.device = data._shape, data.dtype, data.device

    def is_sparse_coo(self):
        return False

    def is_sparse_csr(self):
        return False

    # ------------------------------------------------------------------ autograd: the data's
    @property
    def grad(self):
        g = self._masked_data.grad
        return None if g is None else _wrap(g, self._masked_mask)

    @grad.setter
    def grad(self, value):
        self._masked_data.grad = value._masked_data if is_masked_tensor(value) else value

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if is_masked_tensor(gradient):
            gradient = gradient.to_tensor(0)
        if inputs is not None:
            inputs = [i._masked_data if is_masked_tensor(i) else i for i in
                      (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
        self._masked_data.backward(gradient, retain_graph, create_graph, inputs)

    def retain_grad(self):
        self._masked_data.retain_grad()

    @property
    def retains_grad(self):
        return self._masked_data.retains_grad

    def detach(self):
        return _wrap(self._masked_data.detach(), self._masked_mask)

    @property
    def data(self):
        return self.detach()

    # ------------------------------------------------------------------ what needs the elements themselves
    @property
    def _np(self):
        raise TypeError("a MaskedTensor has no single array of elements: use get_data() or to_tensor(value)")

    def untyped_storage(self):
        raise RuntimeError("Cannot access storage of a MaskedTensor: use get_data()")

    storage = untyped_storage

    def data_ptr(self):
        raise RuntimeError("Cannot access data pointer of a MaskedTensor: use get_data()")

    def _bump_version(self):
        pass

    @property
    def _version(self):
        return self._masked_data._version

    def item(self):
        if not bool(self._masked_mask.all()):
            raise ValueError("__torch_dispatch__, aten._local_scalar_dense.default: expected a mask tensor")
        return self._masked_data.item()

    def numpy(self, *, force=False):
        raise TypeError("can't convert a MaskedTensor to numpy: use to_tensor(value) first")

    def __reduce_ex__(self, proto):
        return (_rebuild, (self._masked_data.detach(), self._masked_mask, self.requires_grad))

    def __repr__(self, *, tensor_contents=None):
        if self.dim() == 0:
            v = self._masked_data.item()
            s = f"{v:8.4f}" if isinstance(v, float) else str(v)
            on = bool(self._masked_mask.item())
            return f"MaskedTensor({s if on else '--'}, {on})"
        s = _str(self._masked_data.tolist(), self._masked_mask.tolist())
        return "MaskedTensor(\n" + "\n".join("  " + line for line in s.split("\n")) + "\n)"


def _str(data, mask):
    """PyTorch's MaskedTensor printout of nested lists: elements as ``{:8.4f}`` (floats), ``--`` masked out."""
    if data and not isinstance(data[0], list):
        items = [f"{d:8.4f}" if isinstance(d, float) else str(d) for d in data]
        width = max([8 if not m else len(e) for e, m in zip(items, mask)], default=0)
        return "[" + ", ".join(e if m else "--".rjust(width) for e, m in zip(items, mask)) + "]"
    subs = ["\n".join("  " + line for line in _str(d, m).split("\n")) for d, m in zip(data, mask)]
    return "[\n" + ",\n".join(subs) + "\n]"


def _rebuild(data, mask, requires_grad):
    t = _wrap(data, mask)
    if requires_grad:
        data.requires_grad_(True)
    return t


def masked_tensor(data, mask, requires_grad=False):
    """A new leaf ``MaskedTensor`` holding copies of ``data`` and ``mask`` (see ``MaskedTensor``)."""
    return MaskedTensor(data, mask, requires_grad)


def as_masked_tensor(data, mask):
    """A ``MaskedTensor`` over ``data`` and ``mask`` that keeps ``data``'s autograd history: gradients
    reach ``data`` (a plain tensor there; PyTorch gives a MaskedTensor)."""
    if is_masked_tensor(data) or not isinstance(data, Tensor):
        raise TypeError("data must be a Tensor")
    if is_masked_tensor(mask) or not isinstance(mask, Tensor):
        raise TypeError("mask must be a Tensor")
    _validate(data, mask)
    # a differentiable data gets a node of its own (a view), so the MaskedTensor is no leaf, as in PyTorch
    return _wrap(data.view(data.shape) if data.requires_grad else data, mask)
