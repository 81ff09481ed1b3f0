"""PyTorch's ``torch.nn.utils.parametrizations`` through ``parametrize``: ``weight_norm`` and
``spectral_norm``. Differs from PyTorch: no ``orthogonal`` yet (its ``right_inverse`` needs a QR
decomposition, which ``ttorch.linalg`` lacks).
"""
from .. import functional as F
from ..modules.module import Module
from ..._tensor import Tensor
from ... import autograd
from . import parametrize
from .weight_norm import _weight_norm, norm_except_dim
from .spectral_norm import _as_matrix


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


__all__ = ["weight_norm", "spectral_norm"]
