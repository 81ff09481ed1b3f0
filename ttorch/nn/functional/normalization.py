"""Normalization layers' math: batch, instance, layer, group, RMS and local response norm.

Batch and instance norm run the fused op of ``ttorch.ops.batch_norm``, layer and RMS norm that
of ``ttorch.ops.layer_norm`` (NumPy on cpu, Triton on cuda; cuda rows of its ``MAX_N``, 2**31 - 2**16
elements, or more compose). The rest are written in ttorch ops, so autograd differentiates them (to
any order).
Half inputs are normalised in float32 and cast back, as PyTorch's kernels do.
Running statistics are updated in place outside the graph, with PyTorch's formulas: the
batch mean, and the *unbiased* batch variance (the output itself uses the biased one).
"""

from ... import _dtype as D
from ...autograd import grad_mode
from ...ops import layer_norm as _ln
from ...ops import batch_norm as _bn
from ...ops import _op as _amp_op

__all__ = ["batch_norm", "instance_norm", "layer_norm", "rms_norm", "group_norm", "local_response_norm"]


def _up(x):
    """Half types compute in float32 (PyTorch's accumulate type)."""
    return x.float() if x.dtype in (D.float16, D.bfloat16) else x


def _channel_view(t, ndim):
    """A ``(C,)`` tensor shaped ``(1, C, 1, ...)`` to broadcast against an ``ndim``-d ``(N, C, *)`` input."""
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def _affine(y, weight, bias, ndim):
    if weight is not None:
        y = y * _channel_view(weight, ndim)
    if bias is not None:
        y = y + _channel_view(bias, ndim)
    return y


def _prod(xs):
    p = 1
    for s in xs:
        p *= s
    return p


def _verify_batch_size(size):
    if size[0] * _prod(size[2:]) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")


def _verify_spatial_size(size):
    if _prod(size[2:]) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {size}")


def _update_running(running, stat, momentum):
    # running = (1 - momentum) * running + momentum * stat, in place and outside the graph
    with grad_mode.no_grad():
        running.mul_(1 - momentum).add_(stat.detach().to(running.dtype) * momentum)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel of ``(N, C, *)`` input over the batch and spatial dims.

    In training the batch statistics are used and ``running_mean``/``running_var`` (when given)
    move towards them by ``momentum``; otherwise the running statistics are used. Fused kernels
    (``ttorch.ops.batch_norm``) on both devices.

    Example::

        >>> x = ttorch.tensor([[1.0], [3.0]])
        >>> F.batch_norm(x, None, None, training=True)
        tensor([[-1.0000],
                [ 1.0000]])
    """
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or more input (got {input.ndim}D input)")
    if training:
        _verify_batch_size(input.shape)
    if training and eps <= 0.0:     # PyTorch 2.13's checks: a zero variance would divide by sqrt(0)
        raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    _check_channels("batch_norm", input, weight=weight, bias=bias, running_mean=running_mean,
                    running_var=running_var)
    if momentum is None:    # PyTorch's functional form: None is a factor of 0 (modules pass 1/n)
        momentum = 0.0
    return _bn.batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)[0]


def _check_channels(op, input, **tensors):
    # PyTorch's message, with the op and the input's size
    c = input.shape[1]
    for name, t in tensors.items():
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{op}: {name} should contain {c} elements not {t.numel()} (input of size "
                               f"{list(input.shape)})")


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample of ``(N, C, *)`` input over its spatial dims.

    With ``use_input_stats`` the running statistics (when given) move towards the batch
    average of the per-instance statistics, as PyTorch's does. Runs as batch normalization of
    the input viewed as ``(1, N * C, *)``, as PyTorch's kernel does.
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or more input (got {input.ndim}D input)")
    if use_input_stats:
        _verify_spatial_size(input.shape)
    _check_channels("instance_norm", input, weight=weight, bias=bias, running_mean=running_mean,
                    running_var=running_var)
    n, c = input.shape[0], input.shape[1]
    w = weight.repeat(n) if weight is not None else None
    b = bias.repeat(n) if bias is not None else None
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        y = _bn.batch_norm(input.reshape((1, n * c) + tuple(input.shape[2:])), w, b, running_mean.repeat(n),
                           running_var.repeat(n), False, 0.0, eps)[0]
        return y.reshape(input.shape)
    y, mean, var = _bn.batch_norm(input.reshape((1, n * c) + tuple(input.shape[2:])), w, b, None, None, True, 0.0,
                                  eps)
    if momentum is None:
        momentum = 0.0
    k = _prod(input.shape[2:])
    if running_mean is not None:
        _update_running(running_mean, mean.reshape(n, c).mean(0), momentum)
    if running_var is not None:
        _update_running(running_var, (var * (k / max(k - 1, 1))).reshape(n, c).mean(0), momentum)
    return y.reshape(input.shape)


_norm_shape = _ln._check


def _fused(input, ns):
    """The fused op of ``ttorch.ops.layer_norm``: its NumPy fallback on cpu (one op in the graph,
    not nine), its Triton kernels on cuda (rows under ``MAX_N``)."""
    return input.dtype.is_floating_point and (not input.is_cuda or 0 < _prod(ns) < _ln.MAX_N)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims: ``(x - mean) / sqrt(var + eps) * w + b``.

    Example::

        >>> F.layer_norm(ttorch.tensor([[1.0, 3.0]]), (2,))
        tensor([[-1.0000,  1.0000]])
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("layer_norm", layer_norm, input, normalized_shape, weight, bias, eps)
    ns = _norm_shape(input, normalized_shape, weight, bias)
    if input.dtype.is_complex:
        from ...ops._op import no_complex
        raise no_complex("LayerNormKernelImpl", input.dtype)
    if _fused(input, ns):
        return _ln._layer_norm(input, weight, bias, k=len(ns), eps=float(eps), rms=False)
    x = _up(input)
    dims = tuple(range(x.ndim - len(ns), x.ndim))
    mean = x.mean(dims, keepdim=True)
    xc = x - mean
    y = xc * ((xc * xc).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y.to(input.dtype)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """Root-mean-square norm over the last dims: ``x / sqrt(mean(x**2) + eps) * weight``.

    ``eps=None`` uses ``ttorch.finfo(input.dtype).eps``.
    """
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("rms_norm", rms_norm, input, normalized_shape, weight, eps)
    ns = _norm_shape(input, normalized_shape, weight, None)
    if eps is None:
        eps = D.finfo(input.dtype).eps
    if _fused(input, ns):
        return _ln._rms_norm(input, weight, k=len(ns), eps=float(eps), rms=True)
    x = _up(input)
    dims = tuple(range(x.ndim - len(ns), x.ndim))
    y = x * ((x * x).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        y = y * weight
    return y.to(input.dtype)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise ``(N, C, *)`` input over groups of ``C // num_groups`` channels and the spatial dims."""
    if _amp_op._autocast is not None:  # ttorch.amp: PyTorch's autocast lists
        return _amp_op._autocast.call("group_norm", group_norm, input, num_groups, weight, bias, eps)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input.shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t.shape)} and input of shape {list(input.shape)}")
    x = _up(input)
    g = x.reshape(n, num_groups, -1)                        # (N, G, C/G * spatial)
    mean = g.mean(-1, keepdim=True)
    gc = g - mean
    y = (gc * ((gc * gc).mean(-1, keepdim=True) + eps).rsqrt()).reshape(input.shape)
    return _affine(y, weight, bias, x.ndim).to(input.dtype)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Normalise each element by the squares of its ``size`` neighbouring channels:
    ``x / (k + alpha * mean(x**2 over the window))**beta`` (zero-padded window, as PyTorch's)."""
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    from ... import cat, zeros
    sq = input * input
    c = input.shape[1]
    lo, hi = size // 2, (size - 1) // 2
    pad = lambda m: zeros((input.shape[0], m) + tuple(input.shape[2:]), dtype=input.dtype, device=input.device)
    parts = ([pad(lo)] if lo else []) + [sq] + ([pad(hi)] if hi else [])
    padded = cat(parts, 1) if len(parts) > 1 else sq       # (N, C + size - 1, *)
    win = padded.narrow(1, 0, c)
    for j in range(1, size):
        win = win + padded.narrow(1, j, c)
    if input.dtype.is_floating_point or input.dtype.is_complex:
        div = (win * (alpha / size) + k).pow(beta)
    else:       # PyTorch averages integer squares with an integer pooling: the mean truncated
        from ... import div as _div
        div = (_div(win, size, rounding_mode="trunc") * alpha + k).pow(beta)
    return input / div
