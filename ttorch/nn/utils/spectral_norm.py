"""Spectral normalization (Miyato et al., 2018), PyTorch's hook form: ``W / sigma(W)``, with ``sigma``
the largest singular value of ``W`` seen as a matrix (``dim`` first, the rest flattened), estimated by
power iteration on the buffers ``<name>_u`` and ``<name>_v``, one step (``n_power_iterations``) per
training-mode forward. ``ttorch.nn.utils.parametrizations.spectral_norm`` is the newer form.
Composed of ttorch ops (``mv``, ``dot``, ``F.normalize``), on both devices.
"""
from ..parameter import Parameter
from ._hooks import find_hook, remove_hook
from ... import autograd


def _normalize(x, eps, out):
    from ..functional import normalize
    return normalize(x, dim=0, eps=eps, out=out)


def _as_matrix(weight, dim):
    """``weight`` with ``dim`` first, the other dims flattened: (size of ``dim``, rest)."""
    if dim != 0:
        weight = weight.permute(dim, *[d for d in range(weight.dim()) if d != dim])
    return weight.reshape(weight.size(0), -1)


class SpectralNorm:
    """The forward pre-hook that ``spectral_norm`` registers."""

    _version = 1

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        self.name = name
        self.dim = dim
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        return _as_matrix(weight, self.dim)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            # in place into the buffers (out=): the estimate carries over from call to call
            with autograd.no_grad():
                for _ in range(self.n_power_iterations):
                    v = _normalize(weight_mat.t().mv(u), self.eps, v)
                    u = _normalize(weight_mat.mv(v), self.eps, u)
                # copies: a later in-place update must not change what this forward's graph saved
                u, v = u.clone(), v.clone()
        sigma = u.dot(weight_mat.mv(v))
        return weight / sigma

    def remove(self, module):
        with autograd.no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        if find_hook(module, SpectralNorm, name)[1] is not None:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        with autograd.no_grad():
            h, w = fn.reshape_weight_to_matrix(weight).shape
            # random starts, normalized (PyTorch draws them the same way, from its own generator)
            u = _normalize(weight.new_empty(h).normal_(0, 1), fn.eps, None)
            v = _normalize(weight.new_empty(w).normal_(0, 1), fn.eps, None)
        delattr(module, fn.name)
        module.register_parameter(fn.name + "_orig", weight)
        # a plain attribute until the first forward: the weight itself (sigma not yet applied), as in PyTorch
        setattr(module, fn.name, weight.data)
        module.register_buffer(fn.name + "_u", u)
        module.register_buffer(fn.name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Normalize ``module.<name>`` by its spectral norm before each forward: ``<name>_orig`` becomes
    the parameter, ``<name>_u``/``<name>_v`` the power iteration's buffers (updated in training mode
    only). ``dim``: the output dim (None: 1 for transposed convolutions, else 0).

    Example::

        >>> import ttorch
        >>> m = ttorch.nn.utils.spectral_norm(ttorch.nn.Linear(20, 40))
        >>> m.weight_u.shape, m.weight_orig.shape
        (ttorch.Size([40]), ttorch.Size([40, 20]))
    """
    if dim is None:
        from ..modules.conv import _ConvTransposeNd
        dim = 1 if isinstance(module, _ConvTransposeNd) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``module.<name>`` becomes a parameter holding the normalized weight."""
    return remove_hook(module, SpectralNorm, name, f"spectral_norm of '{name}' not found in {module}")
