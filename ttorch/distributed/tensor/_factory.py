"""DTensor factories (PyTorch's ``torch.distributed.tensor.zeros/ones/empty/full/rand/randn``): each rank makes
only its local part of the global ``size``.

``rand``/``randn`` draw through the RNG tracker (``_random``): on a cuda mesh the shards get their own
streams and the replicas the same one; on a cpu mesh PyTorch has no tracker and raises ``AssertionError``,
and so does ttorch (with a message, where PyTorch's is empty).
"""
from ... import _dtype as D
from ..._layout import strided
from ._api import _normalize, _wrap
from .placement_types import Shard

__all__ = ["zeros", "ones", "empty", "full", "rand", "randn"]


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)) or len(size) == 1 and hasattr(size[0], "numel"):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


def _make(make, size, *, dtype, layout, requires_grad, device_mesh, placements, random=False):
    from . import _random
    if device_mesh is None:
        raise RuntimeError("No device mesh is currently active!")
    if placements is not None and len(placements) != device_mesh.ndim:
        raise AssertionError("mesh dimension does not match the length of placements")
    if layout not in (None, strided):
        raise AssertionError("layout value not supported!")
    placements = _normalize(placements, device_mesh, len(size))
    local = list(size)
    for i, p in enumerate(placements):
        if isinstance(p, Shard):
            step = -(-local[p.dim] // device_mesh.size(i)) if local[p.dim] else 0
            k = device_mesh.get_local_rank(i)
            local[p.dim] = max(0, min(step, local[p.dim] - k * step))
    dtype = dtype or D.get_default_dtype()
    dev = _random._mesh_device(device_mesh)
    if random:
        from ..._random import generator_for
        if not (_random._rng_tracker or _random.is_rng_supported_mesh(device_mesh)):
            raise AssertionError("DTensor rand/randn need the RNG tracker, which (as in PyTorch) exists only on "
                                 "cuda meshes")
        with _random.region(device_mesh, placements, size, generator_for(dev)):
            loc = make(tuple(local), dtype=dtype, device=dev)
    else:
        loc = make(tuple(local), dtype=dtype, device=dev)
    out = _wrap(loc, device_mesh, placements, size)
    if requires_grad:
        out.requires_grad_(True)
    return out


def zeros(*size, requires_grad=False, dtype=None, layout=strided, device_mesh=None, placements=None):
    """A DTensor of zeros of global ``size`` laid out as ``placements`` (default: replicated) on ``device_mesh``."""
    from ...ops.creation import zeros as make
    return _make(make, _size(size), dtype=dtype, layout=layout, requires_grad=requires_grad,
                 device_mesh=device_mesh, placements=placements)


def ones(*size, dtype=None, layout=strided, requires_grad=False, device_mesh=None, placements=None):
    """A DTensor of ones of global ``size`` (see ``zeros``)."""
    from ...ops.creation import ones as make
    return _make(make, _size(size), dtype=dtype, layout=layout, requires_grad=requires_grad,
                 device_mesh=device_mesh, placements=placements)


def empty(*size, dtype=None, layout=strided, requires_grad=False, device_mesh=None, placements=None):
    """An uninitialized DTensor of global ``size`` (see ``zeros``)."""
    from ...ops.creation import empty as make
    return _make(make, _size(size), dtype=dtype, layout=layout, requires_grad=requires_grad,
                 device_mesh=device_mesh, placements=placements)


def full(size, fill_value, *, dtype=None, layout=strided, requires_grad=False, device_mesh=None, placements=None):
    """A DTensor of global ``size`` filled with ``fill_value`` (see ``zeros``)."""
    from ...ops.creation import full as make_full
    return _make(lambda s, **kw: make_full(s, fill_value, **kw), _size((size,)), dtype=dtype, layout=layout,
                 requires_grad=requires_grad, device_mesh=device_mesh, placements=placements)


def rand(*size, requires_grad=False, dtype=None, layout=strided, device_mesh=None, placements=None):
    """A DTensor of U[0, 1) samples of global ``size``: each shard its own stream, replicas the same (cuda meshes;
    ``AssertionError`` on a cpu mesh, as PyTorch)."""
    from ...ops.random import rand as make
    return _make(make, _size(size), dtype=dtype, layout=layout, requires_grad=requires_grad,
                 device_mesh=device_mesh, placements=placements, random=True)


def randn(*size, requires_grad=False, dtype=None, layout=strided, device_mesh=None, placements=None):
    """A DTensor of N(0, 1) samples of global ``size`` (see ``rand``)."""
    from ...ops.random import randn as make
    return _make(make, _size(size), dtype=dtype, layout=layout, requires_grad=requires_grad,
                 device_mesh=device_mesh, placements=placements, random=True)
