"""``CatTransform`` and ``StackTransform``: transforms applied piecewise, to consecutive slices
along a dim (``cat``) or to each index of a dim (``stack``); the transforms of ``constraints.cat``
and ``constraints.stack`` in ``constraint_registry``."""
import ttorch
from . import constraints
from ._transform import Transform
from .utils import _sum_rightmost, lazy_property

__all__ = ["CatTransform", "StackTransform"]


def _check_dim_size(var, noun, x, dim, size, what):
    """PyTorch's assertions on the sliced dim (``noun`` names ``x`` in the range message)."""
    if not (-x.dim() <= dim < x.dim()):
        raise AssertionError(f"dim {dim} out of range for {noun} with {x.dim()} dimensions")
    if x.size(dim) != size:
        raise AssertionError(f"{var}.size({dim}) = {x.size(dim)} must equal {what} {size}")


class CatTransform(Transform):
    """Applies ``tseq[i]`` to the slice of length ``lengths[i]`` along ``dim``, like ``torch.cat``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions.transforms import CatTransform, ExpTransform, identity_transform
        >>> t = CatTransform([identity_transform, ExpTransform()], dim=0, lengths=[1, 2])
        >>> print([round(v, 4) for v in t(ttorch.tensor([0.0, 0.0, 1.0])).tolist()])
        [0.0, 1.0, 2.7183]
    """

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise AssertionError("All elements of tseq must be Transform instances")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.lengths = list(lengths) if lengths is not None else [1] * len(self.transforms)
        if len(self.lengths) != len(self.transforms):
            raise AssertionError(f"lengths ({len(self.lengths)}) must match transforms ({len(self.transforms)})")
        self.dim = dim

    @lazy_property
    def event_dim(self):
        return max(t.event_dim for t in self.transforms)

    @lazy_property
    def length(self):
        return sum(self.lengths)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def _map(self, x, inverse):
        _check_dim_size("y" if inverse else "x", "tensor", x, self.dim, self.length, "length")
        out, start = [], 0
        for trans, length in zip(self.transforms, self.lengths):
            xslice = x.narrow(self.dim, start, length)
            out.append(trans.inv(xslice) if inverse else trans(xslice))
            start = start + length
        return ttorch.cat(out, dim=self.dim)

    def _call(self, x):
        return self._map(x, False)

    def _inverse(self, y):
        return self._map(y, True)

    def log_abs_det_jacobian(self, x, y):
        _check_dim_size("x", "x", x, self.dim, self.length, "length")
        _check_dim_size("y", "y", y, self.dim, self.length, "length")
        logdetjacs, start = [], 0
        for trans, length in zip(self.transforms, self.lengths):
            logdetjac = trans.log_abs_det_jacobian(x.narrow(self.dim, start, length), y.narrow(self.dim, start, length))
            if trans.event_dim < self.event_dim:
                logdetjac = _sum_rightmost(logdetjac, self.event_dim - trans.event_dim)
            logdetjacs.append(logdetjac)
            start = start + length
        dim = self.dim
        if dim >= 0:
            dim = dim - x.dim()
        dim = dim + self.event_dim
        # a cat dim inside the event is summed over; outside it, the pieces are concatenated
        return ttorch.cat(logdetjacs, dim=dim) if dim < 0 else sum(logdetjacs)

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property
    def domain(self):
        return constraints.cat([t.domain for t in self.transforms], self.dim, self.lengths)

    @constraints.dependent_property
    def codomain(self):
        return constraints.cat([t.codomain for t in self.transforms], self.dim, self.lengths)


class StackTransform(Transform):
    """Applies ``tseq[i]`` to ``x.select(dim, i)``, like ``torch.stack``.

    Example::

        >>> import ttorch
        >>> from ttorch.distributions.transforms import StackTransform, ExpTransform, identity_transform
        >>> t = StackTransform([identity_transform, ExpTransform()], dim=1)
        >>> t(ttorch.tensor([[0.0, 0.0], [1.0, 1.0]]))
        tensor([[0.0000, 1.0000],
                [1.0000, 2.7183]])
    """

    def __init__(self, tseq, dim=0, cache_size=0):
        if not all(isinstance(t, Transform) for t in tseq):
            raise AssertionError("All elements of tseq must be Transform instances")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = list(tseq)
        self.dim = dim

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def _slice(self, z):
        return [z.select(self.dim, i) for i in range(z.size(self.dim))]

    def _call(self, x):
        _check_dim_size("x", "tensor", x, self.dim, len(self.transforms), "len(transforms)")
        return ttorch.stack([t(xs) for xs, t in zip(self._slice(x), self.transforms)], dim=self.dim)

    def _inverse(self, y):
        _check_dim_size("y", "tensor", y, self.dim, len(self.transforms), "len(transforms)")
        return ttorch.stack([t.inv(ys) for ys, t in zip(self._slice(y), self.transforms)], dim=self.dim)

    def log_abs_det_jacobian(self, x, y):
        _check_dim_size("x", "x", x, self.dim, len(self.transforms), "len(transforms)")
        _check_dim_size("y", "y", y, self.dim, len(self.transforms), "len(transforms)")
        return ttorch.stack([t.log_abs_det_jacobian(xs, ys)
                             for xs, ys, t in zip(self._slice(x), self._slice(y), self.transforms)], dim=self.dim)

    @property
    def bijective(self):
        return all(t.bijective for t in self.transforms)

    @constraints.dependent_property
    def domain(self):
        return constraints.stack([t.domain for t in self.transforms], self.dim)

    @constraints.dependent_property
    def codomain(self):
        return constraints.stack([t.codomain for t in self.transforms], self.dim)
