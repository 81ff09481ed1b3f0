"""Helpers shared by the distributions: parameter broadcasting, probs/logits conversions,
``lazy_property`` (a parameter computed once, on first use) and the sampling primitives
(standard normal, standard gamma) composed of ttorch ops so they run on cpu and cuda."""
import functools
import ttorch

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits", "lazy_property",
           "tril_matrix_to_vec", "vec_to_tril_matrix", "euler_constant"]

euler_constant = 0.57721566490153286060  # Euler Mascheroni constant


def _is_number(v):
    return isinstance(v, (bool, int, float))


def broadcast_all(*values):
    """Broadcast tensors and numbers together. Numbers become tensors of the first tensor's dtype
    and device (the default dtype if all are numbers).

    Raises:
        ValueError: if a value is neither a number nor a Tensor.
    """
    if not all(isinstance(v, ttorch.Tensor) or _is_number(v) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    if not all(isinstance(v, ttorch.Tensor) for v in values):
        options = dict(dtype=ttorch.get_default_dtype())
        for v in values:
            if isinstance(v, ttorch.Tensor):
                options = dict(dtype=v.dtype, device=v.device)
                break
        values = [v if isinstance(v, ttorch.Tensor) else ttorch.tensor(v, **options) for v in values]
    return tuple(ttorch.broadcast_tensors(*values))


def _size(shape):
    return shape if isinstance(shape, ttorch.Size) else ttorch.Size(tuple(shape))


def _standard_normal(shape, dtype, device):
    return ttorch.randn(_size(shape), dtype=dtype, device=device)


def _sum_rightmost(value, dim):
    """Sum out the ``dim`` rightmost dimensions of ``value``."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:-dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    """Logits to probabilities: a sigmoid for binary (log-odds), else a softmax over the last dim."""
    if is_binary:
        return ttorch.sigmoid(logits)
    return ttorch.softmax(logits, dim=-1)


def clamp_probs(probs):
    """Clamp probabilities into the open interval ``(eps, 1 - eps)`` of their dtype."""
    eps = ttorch.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """Probabilities to logits (log-odds when binary, else log-probabilities), clamped first."""
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return ttorch.log(ps_clamped) - ttorch.log1p(-ps_clamped)
    return ttorch.log(ps_clamped)


class lazy_property:
    """A property computed on first access (with gradients on), then stored on the instance."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        functools.update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with ttorch.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def tril_matrix_to_vec(mat, diag=0):
    """The lower triangle (from diagonal ``diag``) of a (batch of) square matrices, in row order."""
    n = mat.shape[-1]
    if diag < -n or diag >= n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    rows, cols = ttorch.tril_indices(n, n, diag, device=mat.device)
    return mat[..., rows, cols]


def vec_to_tril_matrix(vec, diag=0):
    """Inverse of ``tril_matrix_to_vec``: a (batch of) lower-triangular matrices from vectors."""
    m = vec.shape[-1]
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * m + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(n) - n > ttorch.finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(n)
    rows, cols = ttorch.tril_indices(n, n, diag, device=vec.device)
    flat = rows * n + cols                                      # (m,) positions in the n*n matrix
    out = vec.new_zeros(tuple(vec.shape[:-1]) + (n * n,))
    out = out.index_add(-1, flat, vec)
    return out.reshape(tuple(vec.shape[:-1]) + (n, n))
