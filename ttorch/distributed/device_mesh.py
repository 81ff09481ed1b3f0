"""``DeviceMesh``: the ranks of the world laid out as an n-d array, one process group per mesh dimension.

PyTorch's ``torch.distributed.device_mesh`` (1-D and 2-D meshes). The groups of every row and column are
made with ``new_group`` on every rank in the same order (``new_group`` is collective), so the collectives
along a mesh dimension are ordinary ttorch process groups: host copies over TCP, like the rest of
``ttorch.distributed``.
"""
import numpy as np

from . import distributed_c10d as c10d

__all__ = ["DeviceMesh", "init_device_mesh"]


class DeviceMesh:
    """A logical n-d array of global ranks (``mesh``) on ``device_type``; this rank's groups along each dim.

    Args:
        device_type (str): ``"cpu"`` or ``"cuda"``.
        mesh (array-like): the global ranks, one per position (an n-d nested list, array or tensor).
        mesh_dim_names (tuple of str, optional): a name per mesh dimension (for ``mesh["dp"]``).

    Example::

        >>> mesh = DeviceMesh("cpu", [0, 1])          # doctest: +SKIP
        >>> mesh.size(), mesh.get_local_rank()       # doctest: +SKIP
        (2, 0)
    """

    def __init__(self, device_type, mesh, *, mesh_dim_names=None, _init_backend=True, _groups=None,
                 _strides=None):
        if hasattr(mesh, "tolist"):
            mesh = mesh.tolist()
        self.device_type = device_type
        self._mesh = np.asarray(mesh, dtype=np.int64)
        if mesh_dim_names is not None:
            mesh_dim_names = tuple(mesh_dim_names)
            if len(mesh_dim_names) != self._mesh.ndim:
                raise RuntimeError(f"mesh_dim_names {mesh_dim_names} must have the same length as the mesh's "
                                   f"dimensions ({self._mesh.ndim})")
        self.mesh_dim_names = mesh_dim_names
        # the step in global ranks along each dim, as the root mesh lays them out (PyTorch's repr shows it)
        self._strides = _strides if _strides is not None else \
            tuple(int(np.prod(self._mesh.shape[d + 1:])) for d in range(self._mesh.ndim))
        if len(set(self._mesh.reshape(-1).tolist())) != self._mesh.size:
            raise RuntimeError(f"DeviceMesh cannot have duplicate values, but found {self._mesh.tolist()}")
        rank = c10d.get_rank()
        where = np.argwhere(self._mesh == rank)
        self._coordinate = None if len(where) == 0 else tuple(int(i) for i in where[0])
        if _groups is not None:
            self._dim_groups = _groups
        elif _init_backend:
            self._dim_groups = self._make_groups()

    def _slice_ranks(self, dim):
        """The global ranks along ``dim`` through this rank, in mesh order (a group orders them sorted)."""
        index = tuple(slice(None) if d == dim else self._coordinate[d] for d in range(self.ndim))
        return [int(r) for r in self._mesh[index]]

    def _group_rank(self, mesh_dim, index):
        """The group rank of the member at position ``index`` along ``mesh_dim``."""
        ranks = self._slice_ranks(mesh_dim)
        return sorted(ranks).index(ranks[index])

    def _make_groups(self):
        """One group per mesh dim holding this rank: every rank makes every group, in the same order."""
        groups = []
        for dim in range(self._mesh.ndim):
            mine = None
            # the 1-d slices along ``dim``: move it last, flatten the others
            for ranks in np.moveaxis(self._mesh, dim, -1).reshape(-1, self._mesh.shape[dim]).tolist():
                if len(ranks) == c10d.get_world_size() and sorted(ranks) == list(range(len(ranks))) and \
                        ranks == sorted(ranks):
                    g = c10d._default_pg()      # the whole world in order: the default group itself
                    # (every rank takes this branch alike, so the group counts stay in step)
                else:
                    g = c10d.new_group(ranks)
                if c10d.get_rank() in ranks:
                    mine = g
            groups.append(mine)
        return groups

    # ------------------------------------------------------------------ queries
    @property
    def mesh(self):
        """The global ranks as an int64 cpu tensor of the mesh's shape."""
        from .._tensor import Tensor
        return Tensor._wrap_np(self._mesh.copy())

    @property
    def shape(self):
        return tuple(self._mesh.shape)

    @property
    def ndim(self):
        return self._mesh.ndim

    def size(self, mesh_dim=None):
        """The number of ranks in the mesh, or along ``mesh_dim``."""
        return int(self._mesh.size) if mesh_dim is None else int(self._mesh.shape[self._dim(mesh_dim)])

    def _dim(self, mesh_dim):
        if isinstance(mesh_dim, str):
            if self.mesh_dim_names is None or mesh_dim not in self.mesh_dim_names:
                raise KeyError(f"Mesh dimension '{mesh_dim}' does not exist. Available mesh dimensions are: "
                               f"mesh_dim_names={self.mesh_dim_names}")
            return self.mesh_dim_names.index(mesh_dim)
        if not -self.ndim <= mesh_dim < self.ndim:
            raise IndexError(f"mesh_dim {mesh_dim} out of range for a {self.ndim}-d mesh")
        return mesh_dim % self.ndim

    def get_group(self, mesh_dim=None):
        """The process group along ``mesh_dim`` (an index or a name); a 1-D mesh's group when None."""
        if mesh_dim is None:
            if self.ndim != 1:
                raise RuntimeError(f"Found the DeviceMesh have {self.ndim} dimensions",
                                   "Optional kwarg `mesh_dim` needs to be specified when device_mesh.ndim > 1.")
            mesh_dim = 0
        return self._dim_groups[self._dim(mesh_dim)]

    def get_all_groups(self):
        return list(self._dim_groups)

    def get_rank(self):
        return c10d.get_rank()

    def get_local_rank(self, mesh_dim=None):
        """This rank's index along ``mesh_dim`` (its coordinate there)."""
        if mesh_dim is None:
            if self.ndim != 1:
                raise RuntimeError(f"Found the DeviceMesh have {self.ndim} dimensions",
                                   "Optional kwarg `mesh_dim` needs to be specified when device_mesh.ndim > 1.")
            mesh_dim = 0
        return self._coordinate[self._dim(mesh_dim)]

    def get_coordinate(self):
        """This rank's position in the mesh (a list), None if it is not in the mesh."""
        return None if self._coordinate is None else list(self._coordinate)

    def __getitem__(self, names):
        """The sub-mesh of the named dims through this rank (``mesh["tp"]``, ``mesh["dp", "tp"]``)."""
        names = (names,) if isinstance(names, str) else tuple(names)
        if self.mesh_dim_names is None:
            raise RuntimeError("Cannot slice a DeviceMesh without mesh_dim_names!")
        dims = [self._dim(n) for n in names]
        index = tuple(slice(None) if d in dims else self._coordinate[d] for d in range(self.ndim))
        sub = np.transpose(self._mesh[index], np.argsort(np.argsort(dims))) if len(dims) > 1 else self._mesh[index]
        out = DeviceMesh(self.device_type, sub, mesh_dim_names=names,
                         _groups=[self._dim_groups[d] for d in dims], _strides=tuple(self._strides[d] for d in dims))
        out._root_mesh = getattr(self, "_root_mesh", None) or self     # (FSDP2 + TP joins sub-meshes of one root)
        return out

    def __eq__(self, other):
        return isinstance(other, DeviceMesh) and self.device_type == other.device_type and \
            self._mesh.shape == other._mesh.shape and bool((self._mesh == other._mesh).all()) and \
            self.mesh_dim_names == other.mesh_dim_names

    def __hash__(self):
        return hash((self.device_type, self._mesh.tobytes(), self._mesh.shape, self.mesh_dim_names))

    def __repr__(self):
        # PyTorch 2.13's form: DeviceMesh((dp=2, tp=2), 'cpu', stride=(2, 1)); a dim of size 1 has stride ()
        shape = self._mesh.shape
        dims = ", ".join(str(n) if self.mesh_dim_names is None else f"{self.mesh_dim_names[i]}={n}"
                         for i, n in enumerate(shape))
        strides = ", ".join("()" if n == 1 else str(st) for n, st in zip(shape, self._strides))
        comma = "," if len(shape) == 1 else ""
        return f"DeviceMesh(({dims}{comma if self.mesh_dim_names is None else ''}), '{self.device_type}', " \
               f"stride=({strides}{comma}))"


def init_device_mesh(device_type, mesh_shape, *, mesh_dim_names=None, backend_override=None):
    """A ``DeviceMesh`` of ``mesh_shape`` over the ranks ``0 .. prod(mesh_shape) - 1`` in row-major order.

    Every rank of the world must call it (it makes the mesh's process groups). The default process group
    must exist (PyTorch would start one from the environment).

    Example::

        >>> mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))   # doctest: +SKIP
        >>> mesh["tp"].size()                                                      # doctest: +SKIP
        2
    """
    mesh_shape = tuple(int(s) for s in mesh_shape)
    if mesh_dim_names is not None:
        if len(set(mesh_dim_names)) != len(mesh_dim_names):
            raise RuntimeError(f"Each mesh_dim_name must be unique. Found repeated mesh_dim_name in "
                               f"mesh_dim_names {tuple(mesh_dim_names)}")
        if len(mesh_shape) != len(mesh_dim_names):
            raise RuntimeError(f"mesh_shape and mesh_dim_names should have same length! Found len(mesh_dim_names): "
                               f"{len(mesh_dim_names)} and len(mesh_shape):{len(mesh_shape)}.")
    if device_type not in ("cpu", "cuda"):
        raise RuntimeError(f"Device type with index is not supported but got {device_type}. "
                           "If you maintained a 'torch.device' object, it's recommended to pass in 'device.type'.")
    n = int(np.prod(mesh_shape))
    if n != c10d.get_world_size():
        raise RuntimeError(f"Mesh should not be bigger than default world size {c10d.get_world_size()}, "
                           f"but found {n} ranks!" if n > c10d.get_world_size() else
                           f"mesh_shape {mesh_shape} has {n} ranks but the world has {c10d.get_world_size()}")
    return DeviceMesh(device_type, np.arange(n).reshape(mesh_shape), mesh_dim_names=mesh_dim_names)
