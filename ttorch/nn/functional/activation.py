"""Activation functions of ``ttorch.nn.functional``, with PyTorch's names, defaults and errors.

Most are fused elementwise ops of ``ttorch.ops.unary`` (one Triton kernel each, with a backward
rule); the rest compose from them, so all run on cpu and cuda and differentiate.
``inplace=True`` writes the result into ``input`` with ``copy_`` (autograd records it as PyTorch's
in-place variants; a backward that needs the overwritten input raises PyTorch's version error).
"""
import warnings

from ... import ops as _ops
from ...autograd.grad_mode import is_grad_enabled
from ...ops import _op as _amp_op

_U = _ops.FUNCTIONS
_where = _U["where"]

__all__ = ["gumbel_softmax", "threshold", "threshold_", "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "elu",
           "elu_", "selu", "selu_", "celu", "celu_", "leaky_relu", "leaky_relu_", "rrelu", "rrelu_", "prelu", "gelu",
           "silu", "mish", "softplus", "softsign", "tanh", "sigmoid", "hardsigmoid", "hardswish", "logsigmoid",
           "softmax", "log_softmax", "softmin", "glu", "tanhshrink", "softshrink", "hardshrink"]


def _apply(input, inplace, fn, *args):
    """``fn(input, *args)``, written back into ``input`` when ``inplace``. Under autograd the op reads
    a clone, so its backward never sees the overwritten values (PyTorch's ``elu_`` saves its output)."""
    if not inplace:
        return fn(input, *args)
    src = input.clone() if input.requires_grad and is_grad_enabled() else input
    return input.copy_(fn(src, *args))


def threshold(input, threshold, value, inplace=False):
    """``y = input if input > threshold else value``."""
    return _apply(input, inplace, lambda x: _where(x > threshold, x, value))


def threshold_(input, threshold, value):
    return globals()["threshold"](input, threshold, value, inplace=True)


def relu(input, inplace=False):
    """``max(0, input)``."""
    return input.relu_() if inplace else _U["relu"](input)


def relu_(input):
    return input.relu_()


def relu6(input, inplace=False):
    """``min(max(0, input), 6)``."""
    return _apply(input, inplace, _U["relu6"])


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clamp to ``[min_val, max_val]`` (gradient zero outside and at the bounds, as PyTorch)."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply(input, inplace, _U["hardtanh"], min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def elu(input, alpha=1.0, inplace=False):
    """``x if x > 0 else alpha * (exp(x) - 1)``."""
    return _apply(input, inplace, _U["elu"], alpha)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _apply(input, inplace, _U["selu"])


def selu_(input):
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``, i.e. ``alpha * elu(x / alpha)``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _apply(input, inplace, _U["celu"], alpha)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x if x > 0 else negative_slope * x``."""
    return _apply(input, inplace, _U["leaky_relu"], negative_slope)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    r"""Randomized leaky ReLU: ``x if x > 0 else a * x``, with ``a ~ U(lower, upper)`` drawn per element
    in training and ``a = (lower + upper) / 2`` otherwise. The gradient is ``a`` where ``x <= 0``
    (``x > 0`` and nan: 1 in training, as PyTorch's noise).

    Example::
        >>> import ttorch, ttorch.nn.functional as F
        >>> F.rrelu(ttorch.tensor([-2., 0., 3.]), 0.1, 0.3)
        tensor([-0.4000,  0.0000,  3.0000])
        >>> y = F.rrelu(-ttorch.ones(1000), training=True)
        >>> bool((y >= -1 / 3).all() and (y <= -1 / 8).all())
        True
    """
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    import ttorch
    with ttorch.no_grad():
        noise = _where(input <= 0, ttorch.empty_like(input).uniform_(lower, upper), 1.0)
    return _apply(input, inplace, lambda x: x * noise)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def prelu(input, weight):
    """``x if x > 0 else weight * x``; ``weight`` holds 1 value or one per channel (dim 1)."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("prelu", prelu, input, weight)
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    channels = input.shape[1] if input.ndim > 1 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} "
                           f"and channel size = {channels}.")
    w = weight.reshape(()) if n == 1 else weight.reshape((channels,) + (1,) * (input.ndim - 2))
    return _where(input > 0, input, w * input)


def gelu(input, approximate="none"):
    """``x * Phi(x)``; ``approximate='tanh'`` uses the tanh formula."""
    return _U["gelu"](input, approximate=approximate)


def silu(input, inplace=False):
    """``x * sigmoid(x)``."""
    return _apply(input, inplace, _U["silu"])


def mish(input, inplace=False):
    """``x * tanh(softplus(x))``."""
    return _apply(input, inplace, _U["mish"])


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""
    return _U["softplus"](input, beta, threshold)


def softsign(input):
    """``x / (1 + |x|)`` (one kernel)."""
    return _U["softsign"](input)


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def hardsigmoid(input, inplace=False):
    """``relu6(x + 3) / 6`` in one kernel (gradient ``1/6`` on the open interval ``(-3, 3)``)."""
    return _apply(input, inplace, _U["hardsigmoid"])


def hardswish(input, inplace=False):
    """``x * relu6(x + 3) / 6``."""
    return _apply(input, inplace, _U["hardswish"])


def logsigmoid(input):
    """``log(sigmoid(x))``, computed stably."""
    return _U["logsigmoid"](input)


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as "
                  "an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (the fused softmax kernel on cuda)."""
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim, _stacklevel)
    return _U["softmax"](input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``log(softmax(x))`` along ``dim``, computed stably in one kernel."""
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim, _stacklevel)
    return _U["log_softmax"](input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-x)`` along ``dim``."""
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim, _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return _U["softmax"](-input, dim)


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """A sample of the Gumbel-softmax distribution over ``dim``: ``softmax((logits + g) / tau)`` with
    ``g = -log(E)``, ``E`` exponential draws; ``hard``: the one-hot of its argmax in the forward,
    the soft sample's gradient in the backward (straight-through). ``eps`` is unused, as in PyTorch."""
    import ttorch
    gumbels = -ttorch.empty_like(logits).exponential_().log()
    y = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y
    index = y.max(dim, keepdim=True)[1]
    y_hard = ttorch.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y.detach() + y


def glu(input, dim=-1):
    """Gated linear unit: split ``dim`` in halves ``a, b`` and return ``a * sigmoid(b)``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim + input.ndim if dim < 0 else dim
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    a, b = input.chunk(2, d)
    return a * b.sigmoid()


def tanhshrink(input):
    """``x - tanh(x)`` (one kernel)."""
    return _U["tanhshrink"](input)


def softshrink(input, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _U["softshrink"](input, lambd)


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0."""
    return _U["hardshrink"](input, lambd)


