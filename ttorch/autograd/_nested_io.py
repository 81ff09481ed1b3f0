"""``NestedIOFunction``: PyTorch's legacy autograd function whose ``forward_extended`` and
``backward_extended`` take and return nested tuples/lists of tensors, called on an instance.

PyTorch still exports the class, but its instance call reaches a removed legacy path (``AttributeError``).
ttorch runs it: the call flattens the nested inputs, records one ``Function.apply`` whose forward calls
``forward_extended`` and whose backward calls ``backward_extended`` (each with the nesting restored), and
returns the outputs in ``forward_extended``'s nesting.

Example::

    >>> class Sum2(NestedIOFunction):
    ...     def forward_extended(self, a, pair):
    ...         return a * 2, (pair[0] + pair[1],)
    ...     def backward_extended(self, ga, gp):
    ...         return ga * 2, (gp[0], gp[0])
    >>> x = ttorch.ones(2, requires_grad=True)
    >>> y, (z,) = Sum2()(x, (x, x))
    >>> (y.sum() + z.sum()).backward(); x.grad.tolist()
    [4.0, 4.0]
"""
from .. import _tensor
from .function import Function

__all__ = ["NestedIOFunction"]


def _iter(obj):
    if isinstance(obj, _tensor.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _iter(o)


def _iter_none(obj):
    if obj is None or isinstance(obj, _tensor.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _iter_none(o)


def _unflatten(flat, proto):
    """``flat``'s items in ``proto``'s nesting (tensors and Nones are leaves)."""
    it = iter(flat)

    def rec(p):
        if p is None or isinstance(p, _tensor.Tensor):
            return next(it)
        if isinstance(p, (list, tuple)):
            return type(p)(rec(o) for o in p)
        return p
    return rec(proto)


class NestedIOFunction(Function):
    """Subclass and define ``forward_extended(self, *input)`` and ``backward_extended(self, *grad_output)``
    over nested tensors; call an instance on the inputs."""

    def __init__(self):
        self.to_save = ()
        self._to_save_nested = ()
        self.dirty_tensors = self.non_differentiable = ()

    def __call__(self, *input):
        outer = self
        flat_in = tuple(_iter(input))

        class _Apply(Function):
            @staticmethod
            def forward(ctx, *flat):
                nested = _unflatten([t.detach() for t in flat], input)
                result = outer.forward_extended(*nested)
                outer._nested_output = result
                outs = tuple(_iter(result))
                if outer.non_differentiable:
                    ctx.mark_non_differentiable(*[o for o in outs if any(o is n for n in outer.non_differentiable)])
                return outs

            @staticmethod
            def backward(ctx, *grads):
                res = outer.backward_extended(*_unflatten(grads, outer._nested_output))
                return tuple(_iter_none(res))

        flat_out = _Apply.apply(*flat_in)
        if isinstance(flat_out, _tensor.Tensor):
            flat_out = (flat_out,)
        return _unflatten(flat_out, self._nested_output)

    def save_for_backward(self, *args):
        self.to_save = tuple(_iter(args))
        self._to_save_nested = args

    @property
    def saved_tensors(self):
        return _unflatten(self.to_save, self._to_save_nested)

    def mark_dirty(self, *args, **kwargs):
        self.dirty_tensors = tuple(_iter((args, tuple(kwargs.values()))))

    def mark_non_differentiable(self, *args, **kwargs):
        self.non_differentiable = tuple(_iter((args, tuple(kwargs.values()))))

    def forward_extended(self, *input):
        raise NotImplementedError

    def backward_extended(self, *grad_output):
        raise NotImplementedError
