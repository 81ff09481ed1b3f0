"""``ttorch.gradient``: a function's derivative estimated from its samples by finite differences, NumPy's
``gradient`` formulas as PyTorch's are: second-order central differences inside (for unevenly spaced
coordinates too), first- or second-order one-sided ones at the edges. Composed of slices and arithmetic,
so it runs on both devices and is differentiable.
"""
import numbers

from .._tensor import Tensor, _wrap_dim


def _along(t, d, ndim):
    """A 1-D tensor shaped to broadcast along dim ``d`` of an ``ndim``-D one."""
    return t.reshape([-1 if i == d else 1 for i in range(ndim)])


def _derivative(f, d, h, edge_order):
    """d f / d x along dim ``d``: ``h`` a number (even spacing) or the coordinates (a 1-D tensor)."""
    from .movement import cat
    n = f.shape[d]
    part = lambda start, length: f.narrow(d, start, length)       # noqa: E731
    if not isinstance(h, Tensor):
        inner = (part(2, n - 2) - part(0, n - 2)) / (2.0 * h)
        if edge_order == 1:
            first = (part(1, 1) - part(0, 1)) / h
            last = (part(n - 1, 1) - part(n - 2, 1)) / h
        else:
            first = (-1.5 * part(0, 1) + 2.0 * part(1, 1) - 0.5 * part(2, 1)) / h
            last = (0.5 * part(n - 3, 1) - 2.0 * part(n - 2, 1) + 1.5 * part(n - 1, 1)) / h
        return cat([first, inner, last], d)
    x = h.to(f.dtype) if f.dtype.is_floating_point else h
    dx = x[1:] - x[:-1]                                            # (n - 1,)
    hl, hr = _along(dx[:-1], d, f.dim()), _along(dx[1:], d, f.dim())
    inner = (hl * hl * part(2, n - 2) - hr * hr * part(0, n - 2) + (hr * hr - hl * hl) * part(1, n - 2)) / \
        (hl * hr * (hl + hr))
    if edge_order == 1:
        first = (part(1, 1) - part(0, 1)) / dx[0]
        last = (part(n - 1, 1) - part(n - 2, 1)) / dx[-1]
    else:
        a, b = dx[0], dx[1]
        first = -(2 * a + b) / (a * (a + b)) * part(0, 1) + (a + b) / (a * b) * part(1, 1) - a / (b * (a + b)) * \
            part(2, 1)
        a, b = dx[-2], dx[-1]
        last = b / (a * (a + b)) * part(n - 3, 1) - (a + b) / (a * b) * part(n - 2, 1) + (2 * b + a) / (b * (a + b)) * \
            part(n - 1, 1)
    return cat([first, inner, last], d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative of the function sampled by ``input`` along each of ``dim`` (default: every dim), a
    tuple of tensors of ``input``'s shape. ``spacing``: a number (the step of every dim), one number a dim,
    or one 1-D tensor of coordinates a dim. ``edge_order``: 1 or 2, the edges' one-sided differences.

    Example::

        >>> import ttorch
        >>> ttorch.gradient(ttorch.tensor([1., 2., 4., 8., 10.]))[0].tolist()
        [1.0, 1.5, 3.0, 3.0, 2.0]
    """
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2, but got {edge_order}")
    if spacing is None:     # (PyTorch's default, spelled out)
        spacing = 1
    given = dim is not None
    if dim is None:
        dims = list(range(input.dim()))
    elif isinstance(dim, numbers.Integral):
        dims = [_wrap_dim(dim, input.dim())]
    else:
        dims = [_wrap_dim(d, input.dim()) for d in dim]
    if isinstance(spacing, (numbers.Number, Tensor)) and not (isinstance(spacing, Tensor) and spacing.dim()):
        steps = [float(spacing)] * len(dims)
    else:
        steps = list(spacing)
        if len(steps) != len(dims):
            what = f"'len(dim) = {len(dims)}', since dim argument was given" if given else \
                f"'self.dim() = {input.dim()}', since dim argument was not given"
            raise RuntimeError("torch.gradient expected spacing to be unspecified, a scalar, or a list of length equal "
                               f"to {what}, but got a list of length {len(steps)}")
        steps = [s if isinstance(s, Tensor) and s.dim() else float(s) for s in steps]
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    return tuple(_derivative(input, d, h, edge_order) for d, h in zip(dims, steps))


__all__ = ["gradient"]
