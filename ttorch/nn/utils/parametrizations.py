"""PyTorch's ``torch.nn.utils.parametrizations`` through ``parametrize``: ``orthogonal``, ``weight_norm``
and ``spectral_norm``. Differs from PyTorch: ``orthogonal`` with the Householder map and
``use_trivialization=False`` starts from the weight as it is (PyTorch stores its compact QR, LAPACK's
``geqrf``, which ttorch lacks), and assigning to it raises NotImplementedError.
"""
import ttorch
from .. import functional as F
from ..modules.module import Module
from ..._tensor import Tensor
from ... import autograd
from . import parametrize
from .weight_norm import _weight_norm, norm_except_dim
from .spectral_norm import _as_matrix


_MAPS = ("matrix_exp", "cayley", "householder")


def _is_orthogonal(q):
    eye = ttorch.eye(q.shape[-1], dtype=q.dtype, device=q.device)
    return ttorch.allclose(q.mT @ q, eye, atol=10.0 * q.shape[-2] * ttorch.finfo(q.dtype).eps)


def _make_orthogonal(a):
    """The Q of ``a = QR`` (``a`` tall) with R's diagonal made non-negative."""
    q, r = ttorch.linalg.qr(a)
    return q * r.diagonal(0, -2, -1).sign().unsqueeze(-2)


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x):
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:                          # a wide matrix: parametrize its (tall) transpose
            x = x.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x.tril()
            if n != k:                          # embedded in a square matrix, its last n - k columns zero
                x = ttorch.cat([x, x.new_zeros(n, n - k).expand(*x.shape[:-2], -1, -1)], dim=-1)
            a = x - x.mT                        # skew-symmetric
            if self.orthogonal_map == "matrix_exp":
                q = ttorch.linalg.matrix_exp(a)
            else:                               # the Cayley map (I + A/2)(I - A/2)^-1
                eye = ttorch.eye(n, dtype=a.dtype, device=a.device)
                q = ttorch.linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            a = x.tril(-1)
            tau = 2.0 / (1.0 + (a * a).sum(dim=-2))
            q = ttorch.linalg.householder_product(a, tau)
            # the signs on X's diagonal (1 or -1), not differentiated
            q = q * x.diagonal(0, -2, -1).detach().sign().unsqueeze(-2)
        if "base" in self._buffers:           # use_trivialization: the map moves away from base
            q = self.base @ q
        return q.mT if transposed else q

    def right_inverse(self, q):
        if q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape "
                             f"{q.shape}.")
        with ttorch.no_grad():
            q_init = q
            n, k = q.shape[-2], q.shape[-1]
            if n < k:
                q = q.mT
                n, k = k, n
            if "base" not in self._buffers:
                if self.orthogonal_map in ("cayley", "matrix_exp"):
                    raise NotImplementedError("It is not possible to assign to the matrix exponential or the Cayley "
                                              "parametrizations when use_trivialization=False.")
                raise NotImplementedError("ttorch: the Householder parametrization with use_trivialization=False "
                                          "needs LAPACK's compact QR (geqrf), which ttorch lacks")
            if n == k:
                q = q.clone() if _is_orthogonal(q) else _make_orthogonal(q)
            else:                               # completed into an n x n orthogonal matrix
                extra = ttorch.randn(*(q.shape[:-2] + (n, n - k)), dtype=q.dtype, device=q.device)
                q = _make_orthogonal(ttorch.cat([q, extra], dim=-1))
            self.base = q
            # -I: the Householder map sends zeros with this diagonal to the identity
            neg_eye = ttorch.zeros_like(q_init)
            neg_eye.diagonal(0, -2, -1).fill_(-1.0)
            return neg_eye


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Make ``module.<name>`` (a matrix or a batch of them) orthogonal (orthonormal columns, or rows for a wide
    matrix) through ``orthogonal_map``: "matrix_exp" (the default for square matrices), "cayley" or
    "householder" (the default otherwise) of the stored parameter; with ``use_trivialization`` (the default)
    the map is applied at ``parametrizations.<name>.base``, the starting orthogonal matrix.

    Example::

        >>> import ttorch
        >>> m = ttorch.nn.utils.parametrizations.orthogonal(ttorch.nn.Linear(5, 3))
        >>> bool(ttorch.allclose(m.weight @ m.weight.T, ttorch.eye(3), atol=1e-5))
        True
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f"Got: {orthogonal_map}")
    parametrize.register_parametrization(module, name, _Orthogonal(weight, orthogonal_map,
                                                                   use_trivialization=use_trivialization),
                                         unsafe=True)
    return module


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Weight normalization as a parametrization: ``module.parametrizations.<name>.original0`` holds
    the magnitudes ``g`` (norm over every dim but ``dim``; ``dim=None``: over all) and ``original1``
    the directions ``v``; ``module.<name>`` is ``g * v / ||v||``. A state dict of the hook form
    (``<name>_g``, ``<name>_v``) loads into it.

    Example::

        >>> import ttorch
        >>> m = ttorch.nn.utils.parametrizations.weight_norm(ttorch.nn.Linear(20, 40))
        >>> m.parametrizations.weight.original0.shape, m.parametrizations.weight.original1.shape
        (ttorch.Size([40, 1]), ttorch.Size([40, 20]))
    """
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def _weight_norm_compat_hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                 error_msgs):
        g_key, v_key = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g_key in state_dict and v_key in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g_key)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v_key)

    module._register_load_state_dict_pre_hook(_weight_norm_compat_hook)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = _as_matrix(weight, self.dim)
            h, w = weight_mat.shape
            with autograd.no_grad():
                u = weight_mat.new_empty(h).normal_(0, 1)
                v = weight_mat.new_empty(w).normal_(0, 1)
                self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
                self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)     # start from a good estimate, as PyTorch does

    def _power_method(self, weight_mat, n_power_iterations):
        # in place into the buffers (out=): the estimate carries over from call to call
        with autograd.no_grad():
            weight_mat = weight_mat.detach()
            for _ in range(n_power_iterations):
                self._u = F.normalize(weight_mat.mv(self._v), dim=0, eps=self.eps, out=self._u)
                self._v = F.normalize(weight_mat.t().mv(self._u), dim=0, eps=self.eps, out=self._v)

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = _as_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()     # the graph keeps copies: later updates are in place
        sigma = u.dot(weight_mat.mv(v))
        return weight / sigma

    def right_inverse(self, value):
        # the normalized weight can't give back the unnormalized one: store what is assigned
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalization as a parametrization: ``module.<name>`` is the stored weight divided by
    its largest singular value (the weight seen as a matrix, ``dim`` first), estimated by power
    iteration on the buffers ``parametrizations.<name>[0]._u`` and ``._v`` (15 steps at registration,
    ``n_power_iterations`` per training-mode read). ``dim``: None gives 1 for transposed convolutions,
    else 0.

    Example::

        >>> import ttorch
        >>> m = ttorch.nn.utils.parametrizations.spectral_norm(ttorch.nn.Linear(20, 40))
        >>> m.parametrizations.weight[0]._u.shape
        ttorch.Size([40])
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        from ..modules.conv import _ConvTransposeNd
        dim = 1 if isinstance(module, _ConvTransposeNd) else 0
    parametrize.register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


__all__ = ["orthogonal", "weight_norm", "spectral_norm"]
