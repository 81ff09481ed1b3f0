"""``DTensor``: a tensor laid out over a ``DeviceMesh``, each rank holding its local part (PyTorch's
``torch.distributed.tensor``).

Design: a ``DTensor`` is a ``Tensor`` subclass holding the plain local tensor (``_local_tensor``), the mesh
and one placement per mesh dimension; its ``shape`` is the global shape. Any op given one reaches
``_dispatch.handle`` (registered in ``ops/_op.py``'s ``SUBCLASS_OPS``), which applies a sharding rule
(elementwise, sum/mean, linear/matmul, view/reshape/permute) or else redistributes every operand to
``Replicate`` and runs the op on the whole (so does an ``autograd.Function`` given one: ``F.embedding``...).
Autograd lives on the local tensors: a DTensor's
``requires_grad``, ``grad_fn``, ``backward`` and ``grad`` are its local tensor's (``grad`` a DTensor of
the same placements), and the collectives are autograd functions (``_redistribute``).

Deliberate differences from PyTorch: collectives run on host copies over TCP (``ttorch.distributed``),
synchronously (``async_op`` is ignored); ops without a sharding rule go through ``Replicate`` (correct,
not cheap); ``to_local``/``from_local`` take ``grad_placements`` but gradients always follow the
convention of ``_redistribute`` (a local gradient of a ``Replicate`` or ``Partial`` tensor is the whole
gradient), so the gradient of a ``Replicate`` parameter whose uses are split over ranks (a row-wise bias, a
``SequenceParallel`` norm's weight) arrives all-reduced, as ``Replicate``, where PyTorch leaves it ``Partial``
(same global value); ``from_local``'s ``run_check`` is not implemented (no check is made). Random ops
(``nn.init``, ``uniform_``, ``dropout``, ``rand``) fill the local tensors as ``_random`` explains (per-shard
Philox offsets on cuda meshes; the values are ttorch's Philox draws, not PyTorch's).
"""

from ..._layout import strided
from ..._inner_autograd import AutogradOfInner
from ..._tensor import Tensor
from . import _redistribute as R
from .placement_types import Partial, Replicate, Shard, _StridedShard

__all__ = ["DTensor", "distribute_tensor", "distribute_module"]


def _wrap(local, mesh, placements, shape):
    t = Tensor.__new__(DTensor)
    t._local_tensor, t._mesh, t._placements = local, mesh, tuple(placements)
    t._shape, t.dtype, t.device = tuple(shape), local.dtype, local.device
    return t


def _normalize(placements, mesh, ndim):
    if placements is None:
        return (Replicate(),) * mesh.ndim
    placements = tuple(placements)
    if len(placements) != mesh.ndim:
        raise ValueError(f"`placements` must have the same length as `device_mesh.ndim`! Found placements length: "
                         f"{len(placements)}, and device_mesh.ndim: {mesh.ndim}.")
    out = []
    for p in placements:
        if isinstance(p, Shard) and p.dim < 0:
            p = Shard(p.dim + ndim)
        if not isinstance(p, (Shard, Replicate, Partial, _StridedShard)):
            raise TypeError(f"unsupported placement {p!r}")
        out.append(p)
    return tuple(out)


def _mesh_of(device_mesh):
    if device_mesh is None:
        raise RuntimeError("device_mesh is required (ttorch has no current-mesh context)")
    return device_mesh


class DTensor(AutogradOfInner, Tensor):
    """A tensor sharded or replicated over a ``DeviceMesh``: see ``distribute_tensor``, ``DTensor.from_local``.

    Example::

        >>> mesh = init_device_mesh("cpu", (2,))                          # doctest: +SKIP
        >>> d = distribute_tensor(ttorch.arange(4.), mesh, [Shard(0)])    # doctest: +SKIP
        >>> d.shape, d.to_local()                                         # doctest: +SKIP
        (ttorch.Size([4]), tensor([0., 1.]))                             # (rank 0)
    """

    _inner = "_local_tensor"     # (autograd: that tensor's, ttorch/_inner_autograd.py)

    layout = strided
    is_sparse = False

    def __new__(cls, *args, **kwargs):
        raise TypeError("use distribute_tensor(...) or DTensor.from_local(...) to make a DTensor")

    def __init__(self, *args, **kwargs):
        pass

    # ------------------------------------------------------------------ layout
    @property
    def device_mesh(self):
        return self._mesh

    @property
    def placements(self):
        return self._placements

    @staticmethod
    def from_local(local_tensor, device_mesh=None, placements=None, *, run_check=False, shape=None, stride=None,
                   grad_placements=None):
        """A DTensor whose local part on this rank is ``local_tensor`` (differentiable: gradients reach it).
        Without ``shape``, shards are taken as even: the global size of a sharded dim is the local one times
        the mesh dim's size."""
        mesh = _mesh_of(device_mesh)
        placements = _normalize(placements, mesh, local_tensor.ndim)
        if shape is None:
            shape = list(local_tensor.shape)
            for i, p in enumerate(placements):
                if isinstance(p, Shard):
                    shape[p.dim] *= mesh.size(i)
        local = local_tensor.view_as(local_tensor) if local_tensor.requires_grad else local_tensor
        return _wrap(local, mesh, placements, shape)

    def to_local(self, *, grad_placements=None):
        """This rank's part, a plain tensor in this DTensor's graph."""
        loc = self._local_tensor
        return loc.view_as(loc) if loc.requires_grad else loc

    def redistribute(self, device_mesh=None, placements=None, *, async_op=False, forward_dtype=None,
                     backward_dtype=None):
        """This DTensor with ``placements`` (collectives along the mesh dims that change; differentiable)."""
        mesh = self._mesh if device_mesh is None else device_mesh
        if mesh != self._mesh:
            raise NotImplementedError("Cross device mesh comm not supported yet!")
        if placements is None:
            raise RuntimeError("placements is needed for redistribute!")
        placements = _normalize(placements, mesh, self.ndim)
        for s, d in zip(self._placements, placements):
            if isinstance(d, Partial) and s != d:
                raise RuntimeError(f"Can not redistribute from {s} to {d}, redistributing to Partial is for internal "
                                   "use only!")
        local = self._local_tensor if forward_dtype is None else self._local_tensor.to(forward_dtype)
        return _wrap(R.redistribute_local(local, mesh, self._placements, placements), mesh, placements, self._shape)

    def full_tensor(self, *, grad_placements=None):
        """The global tensor on every rank (all-gathers / all-reduces; differentiable)."""
        return R.redistribute_local(self._local_tensor, self._mesh, self._placements,
                                    (Replicate(),) * self._mesh.ndim)

    # ------------------------------------------------------------------ autograd: the local tensor's
    @property
    def grad(self):
        g = self._local_tensor.grad
        # a Partial tensor's local gradient is the whole gradient (PyTorch's backward reads Partial as Replicate)
        return None if g is None else _wrap(g, self._mesh, [Replicate() if isinstance(p, Partial) else p for p in
                                                             self._placements], self._shape)

    @grad.setter
    def grad(self, value):
        self._local_tensor.grad = value._local_tensor if isinstance(value, DTensor) else value

    _grad = grad        # (the optimizers read and write ``_grad``)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if isinstance(gradient, DTensor):
            gradient = gradient._local_tensor
        if inputs is not None:
            inputs = [i._local_tensor if isinstance(i, DTensor) else i for i in
                      (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
        self._local_tensor.backward(gradient, retain_graph, create_graph, inputs)

    def retain_grad(self):
        self._local_tensor.retain_grad()

    @property
    def retains_grad(self):
        return self._local_tensor.retains_grad

    def detach(self):
        return _wrap(self._local_tensor.detach(), self._mesh, self._placements, self._shape)

    @property
    def data(self):
        return self.detach()

    # ------------------------------------------------------------------ the local elements
    @property
    def _np(self):      # (the optimizers update a parameter's local array in place)
        return self._local_tensor._np

    def _bump_version(self):
        self._local_tensor._bump_version()

    @property
    def _version(self):
        return self._local_tensor._version

    def _fresh(self, local):
        """A DTensor of this layout over ``local`` (``zeros_like``...: the same values on every rank of a
        ``Partial`` dim, so ``Replicate`` there)."""
        return _wrap(local, self._mesh, [Replicate() if isinstance(p, Partial) else p for p in self._placements],
                     self._shape)

    def _zeros_like(self):
        """A DTensor of zeros with this one's layout (an optimizer's state buffer)."""
        from ...ops.creation import zeros
        loc = self._local_tensor
        return _wrap(zeros(loc.shape, dtype=loc.dtype, device=loc.device), self._mesh, self._placements, self._shape)

    def _as_mine(self, src):
        """``src`` (a DTensor, or a plain tensor holding the global value) as a local tensor of this layout."""
        if isinstance(src, DTensor):
            return R.redistribute_local(src._local_tensor, src._mesh, src._placements, self._placements)
        if isinstance(src, Tensor) and src.ndim:
            return R.redistribute_local(src, self._mesh, (Replicate(),) * self._mesh.ndim, self._placements)
        return src

    def _inplace_from(self, result, opname):
        """An in-place op computed out of place (``ops/inplace.py``): the local tensor takes the result's."""
        from ...ops.inplace import inplace_from
        if tuple(result.shape) != self._shape:
            raise RuntimeError(f"{opname}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")
        inplace_from(self._local_tensor, self._as_mine(result), opname)
        return self

    def _function_apply(self, cls, args):
        """``cls.apply(*args)`` (an ``autograd.Function``) given DTensors: on the global tensors (every DTensor
        redistributed to Replicate), the outputs Replicate DTensors."""
        mesh, whole = self._mesh, (Replicate(),) * self._mesh.ndim
        out = cls.apply(*[R.redistribute_local(a._local_tensor, a._mesh, a._placements, whole)
                          if isinstance(a, DTensor) else a for a in args])
        wrap = lambda t: _wrap(t, mesh, whole, t.shape) if isinstance(t, Tensor) else t
        return type(out)(wrap(t) for t in out) if isinstance(out, (tuple, list)) else wrap(out)

    def copy_(self, src, non_blocking=False):
        """Copy ``src``'s global value into this DTensor, in its layout."""
        self._local_tensor.copy_(self._as_mine(src), non_blocking)
        return self

    def untyped_storage(self):
        raise RuntimeError("Cannot access storage of a DTensor: use to_local()")

    def data_ptr(self):
        raise RuntimeError("Cannot access data pointer of a DTensor: use to_local()")

    def item(self):
        return self.full_tensor().item()

    def tolist(self):
        return self.full_tensor().tolist()

    def numpy(self, *, force=False):
        """The global value as an array (a collective: every rank must call it)."""
        return self.full_tensor().detach().numpy(force=force) if not self.requires_grad else \
            self.full_tensor().numpy(force=force)

    # ------------------------------------------------------------------ products: ttorch.matmul and mm call this
    @staticmethod
    def _subclass_matmul(a, b):
        from ._dispatch import matmul
        return matmul(a, b)

    def __repr__(self, *, tensor_contents=None):
        return f"DTensor(local_tensor={self._local_tensor!r}, device_mesh={self._mesh!r}, " \
               f"placements={self._placements!r})"

    def __reduce_ex__(self, proto):
        raise TypeError("pickling a DTensor is not supported: save to_local() or full_tensor()")


def distribute_tensor(tensor, device_mesh=None, placements=None, *, src_data_rank=0):
    """A leaf DTensor of ``tensor``'s value, laid out as ``placements`` (default: replicated).

    With ``src_data_rank`` (default 0) the value comes from the rank of that group rank along every mesh dim
    (broadcasts first); with None each rank's own ``tensor`` is cut locally.
    """
    mesh = _mesh_of(device_mesh)
    placements = _normalize(placements, mesh, tensor.ndim)
    for p in placements:
        if isinstance(p, Shard) and not 0 <= p.dim < tensor.ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-tensor.ndim}, "
                             f"{tensor.ndim - 1}], but got {p.dim})")
    from ...autograd import grad_mode
    with grad_mode.no_grad():
        full = tensor.detach()
        if src_data_rank is not None:
            from .. import collectives
            full = full.clone()
            # along each mesh dim in turn from its group rank ``src_data_rank``, as PyTorch's mesh_broadcast
            for i in range(mesh.ndim):
                collectives.broadcast(full, group=mesh.get_group(i), group_src=src_data_rank)
        local = R.redistribute_local(full, mesh, (Replicate(),) * mesh.ndim, placements).contiguous()
        if local is full and src_data_rank is None:
            local = full.clone()        # (not the caller's memory)
    out = _wrap(local.detach(), mesh, placements, tensor.shape)
    if tensor.requires_grad:
        out.requires_grad_(True)
    return out


def distribute_module(module, device_mesh=None, partition_fn=None, input_fn=None, output_fn=None):
    """Lay out ``module``'s parameters over the mesh: ``partition_fn(name, submodule, mesh)`` on every submodule
    (default: parameters replicated), ``input_fn(module, inputs, mesh)`` and ``output_fn(module, outputs, mesh)``
    as forward pre-/post-hooks. Returns ``module``."""
    from ...nn.parameter import Parameter
    mesh = _mesh_of(device_mesh)

    def replicate(name, mod, mesh):
        for key, p in list(mod._parameters.items()):
            if p is not None and not isinstance(p, DTensor):
                mod.register_parameter(key, Parameter(distribute_tensor(p.data, mesh, (Replicate(),) * mesh.ndim),
                                                      p.requires_grad))

    for name, sub in module.named_modules():
        (partition_fn or replicate)(name, sub, mesh)
        if partition_fn is not None:
            replicate(name, sub, mesh)      # what the function left plain becomes replicated, as in PyTorch
    if input_fn is not None:
        module.register_forward_pre_hook(lambda mod, inputs: input_fn(mod, inputs, mesh))
    if output_fn is not None:
        module.register_forward_hook(lambda mod, inputs, outputs: output_fn(mod, outputs, mesh))
    return module

