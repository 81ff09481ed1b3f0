"""A mixin for the Tensor subclasses that keep their data in another tensor (nested tensors' values, a
MaskedTensor's data, a DTensor's local shard, vmap's batched value): their autograd state is that tensor's."""


class AutogradOfInner:
    """``requires_grad``, ``requires_grad_``, ``grad_fn`` and ``is_leaf`` of the tensor in attribute ``_inner``."""

    _inner = None

    @property
    def requires_grad(self):
        return getattr(self, self._inner).requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        getattr(self, self._inner).requires_grad = value

    def requires_grad_(self, requires_grad=True):
        getattr(self, self._inner).requires_grad_(requires_grad)
        return self

    @property
    def grad_fn(self):
        return getattr(self, self._inner).grad_fn

    @grad_fn.setter
    def grad_fn(self, value):
        getattr(self, self._inner).grad_fn = value

    @property
    def is_leaf(self):
        return getattr(self, self._inner).is_leaf
