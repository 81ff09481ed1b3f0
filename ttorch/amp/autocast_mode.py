"""``ttorch.autocast``: regions where listed ops run in a lower precision or in float32.

Inside an enabled region, an op named in PyTorch's autocast lists casts its floating inputs
(those on the region's device type, float64 excepted) before it runs: matmul, conv, linear
and attention to the region's dtype, softmax, norms, losses and reductions to float32, and
ops that need matching dtypes to the widest of their inputs. Casts are ordinary ttorch ops,
so gradients flow back in each leaf's own dtype.

The hook sits in ``Op.__call__`` (ops that are one ``Op``) and at the entry of composite
functions (``F.linear``, ``F.scaled_dot_product_attention``, losses...). Outside a region
both test one global, ``ttorch.ops._op._autocast``, that is None.
"""
import functools
import warnings

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd import grad_mode
from ..ops import _op

# ---------------------------------------------------------------------------------------- op lists
# PyTorch's lists (aten/src/ATen/autocast_mode.{h,cpp}), keyed by public function names; ttorch's
# op names are the same. A name no op uses is harmless.
_LOWER, _FP32, _PROMOTE, _BANNED = "lower", "fp32", "promote", "banned"

_CUDA_LOWER = ("_convolution conv1d conv2d conv3d conv_tbc conv_transpose1d conv_transpose2d conv_transpose3d "
               "convolution prelu addmm addmv addr matmul einsum mm mv linalg_vecdot linear addbmm baddbmm bmm "
               "chain_matmul linalg_multi_dot lstm_cell gru_cell rnn_tanh_cell rnn_relu_cell "
               "scaled_dot_product_attention __matmul__")
_CUDA_FP32 = ("acos asin cosh erfinv exp expm1 log log10 log2 log1p reciprocal rsqrt sinh tan pow softplus "
              "layer_norm native_layer_norm group_norm frobenius_norm nuclear_norm cosine_similarity "
              "poisson_nll_loss cosine_embedding_loss nll_loss nll_loss2d hinge_embedding_loss kl_div l1_loss "
              "smooth_l1_loss huber_loss mse_loss margin_ranking_loss multilabel_margin_loss soft_margin_loss "
              "triplet_margin_loss multi_margin_loss binary_cross_entropy_with_logits dist pdist cdist renorm "
              "logsumexp upsample_nearest1d upsample_nearest2d upsample_nearest3d upsample_linear1d "
              "upsample_bilinear2d upsample_trilinear3d upsample_bicubic2d "
              # fp32_set_opt_dtype / fp32_append_dtype: run in float32 unless a dtype is given
              "prod softmax log_softmax cumprod cumsum linalg_vector_norm linalg_matrix_norm sum norm "
              # composites whose parts are all float32 ops in PyTorch (cross_entropy = log_softmax +
              # nll_loss; normalize and softmin likewise); rms_norm's upcast parts make its output float32
              "cross_entropy normalize softmin rms_norm")
_CUDA_PROMOTE = "addcdiv addcmul atan2 bilinear cross dot grid_sampler index_put tensordot scatter_add"

_CPU_LOWER = ("conv1d conv2d conv3d bmm mm linalg_vecdot baddbmm addmm addbmm linear _convolution matmul "
              "conv_tbc mkldnn_rnn_layer conv_transpose1d conv_transpose2d conv_transpose3d prelu "
              "scaled_dot_product_attention _native_multi_head_attention __matmul__")
_CPU_FP32 = ("avg_pool3d binary_cross_entropy grid_sampler polar prod quantile nanquantile stft cdist "
             "grid_sampler_2d grid_sampler_3d trace view_as_complex cholesky cholesky_inverse cholesky_solve "
             "inverse lu_solve orgqr ormqr pinverse max_pool3d max_unpool2d max_unpool3d adaptive_avg_pool3d "
             "reflection_pad1d reflection_pad2d replication_pad1d replication_pad2d replication_pad3d mse_loss "
             "cosine_embedding_loss nll_loss nll_loss2d hinge_embedding_loss poisson_nll_loss smooth_l1_loss "
             "cross_entropy_loss cross_entropy l1_loss huber_loss margin_ranking_loss soft_margin_loss "
             "triplet_margin_loss multi_margin_loss ctc_loss kl_div multilabel_margin_loss "
             "binary_cross_entropy_with_logits fft_fft fft_ifft fft_fft2 fft_ifft2 fft_fftn fft_ifftn fft_rfft "
             "fft_irfft fft_rfft2 fft_irfft2 fft_rfftn fft_irfftn fft_hfft fft_ihfft linalg_cond "
             "linalg_matrix_rank linalg_solve linalg_cholesky linalg_svdvals linalg_eigvals linalg_eigvalsh "
             "linalg_inv linalg_householder_product linalg_tensorinv linalg_tensorsolve geqrf qr svd "
             "triangular_solve fractional_max_pool2d fractional_max_pool3d adaptive_max_pool3d linalg_qr "
             "linalg_cholesky_ex linalg_svd linalg_eig linalg_eigh linalg_lstsq linalg_inv_ex")
_CPU_PROMOTE = "stack cat index_copy"


def _table(lower, fp32, promote):
    t = dict.fromkeys(lower.split(), _LOWER)
    t.update(dict.fromkeys(fp32.split(), _FP32))
    t.update(dict.fromkeys(promote.split(), _PROMOTE))
    return t


POLICIES = {"cuda": _table(_CUDA_LOWER, _CUDA_FP32, _CUDA_PROMOTE), "cpu": _table(_CPU_LOWER, _CPU_FP32, _CPU_PROMOTE)}
POLICIES["cuda"]["binary_cross_entropy"] = _BANNED

_BCE_BANNED = ("torch.nn.functional.binary_cross_entropy and torch.nn.BCELoss are unsafe to autocast.\n"
               "Many models use a sigmoid layer right before the binary cross entropy layer.\n"
               "In this case, combine the two layers using torch.nn.functional.binary_cross_entropy_with_logits\n"
               "or torch.nn.BCEWithLogitsLoss.  binary_cross_entropy_with_logits and BCEWithLogits are\n"
               "safe to autocast.")

# ---------------------------------------------------------------------------------------- state
_enabled = {"cpu": False, "cuda": False}
_dtypes = {"cpu": D.bfloat16, "cuda": D.float16}
_cache_enabled = [True]
_nesting = [0]
_cache = {}     # id(leaf) -> (leaf, version, dtype, cast): a weight is cast once per region


def _sync():
    """Point ``Op.__call__``'s hook at the caster while any device type has autocast on."""
    _op._autocast = _CASTER if (_enabled["cpu"] or _enabled["cuda"]) else None


def _device_type(device_type):
    if device_type not in _enabled:
        raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
    return device_type


def is_autocast_available(device_type):
    """True for the device types autocast supports here: ``'cpu'`` and ``'cuda'``."""
    return device_type in _enabled


def is_autocast_enabled(device_type=None):
    """Whether autocast is on for ``device_type`` (None: ``'cuda'``, PyTorch's old meaning)."""
    return _enabled[_device_type("cuda" if device_type is None else device_type)]


def set_autocast_enabled(device_type, enabled=None):
    if enabled is None:     # the old one-argument form set the cuda state
        device_type, enabled = "cuda", device_type
    _enabled[_device_type(device_type)] = bool(enabled)
    _sync()


def get_autocast_dtype(device_type):
    """The lower-precision dtype autocast uses on ``device_type`` (cuda: float16, cpu: bfloat16)."""
    return _dtypes[_device_type(device_type)]


def set_autocast_dtype(device_type, dtype):
    _dtypes[_device_type(device_type)] = dtype


def is_autocast_cpu_enabled():
    """Deprecated spelling of ``is_autocast_enabled("cpu")``."""
    return _enabled["cpu"]


def get_autocast_cpu_dtype():
    """Deprecated spelling of ``get_autocast_dtype("cpu")``."""
    return _dtypes["cpu"]


def get_autocast_gpu_dtype():
    """Deprecated spelling of ``get_autocast_dtype("cuda")``."""
    return _dtypes["cuda"]


def is_autocast_cache_enabled():
    return _cache_enabled[0]


def set_autocast_cache_enabled(enabled):
    _cache_enabled[0] = bool(enabled)


def clear_autocast_cache():
    _cache.clear()


# ---------------------------------------------------------------------------------------- casting
def _cast(x, to, dev):
    """``x`` cast to ``to`` when it is eligible: a floating tensor on ``dev`` other than float64."""
    if type(x) is Tensor or isinstance(x, Tensor):
        dt = x.dtype
        if dt is to or not dt.is_floating_point or dt is D.float64 or x.device.type != dev:
            return x
        from ..ops.movement import to_dtype
        # PyTorch caches casts of float32 leaf weights to the low dtype for the region's lifetime
        if _cache_enabled[0] and to is not D.float32 and x.requires_grad and x.grad_fn is None \
                and grad_mode._state["enabled"]:
            hit = _cache.get(id(x))
            if hit is not None and hit[0] is x and hit[1] == x._version and hit[2] is to:
                return hit[3]
            y = to_dtype(x, to)
            _cache[id(x)] = (x, x._version, to, y)
            return y
        return to_dtype(x, to)
    if type(x) in (list, tuple):
        return type(x)(_cast(v, to, dev) for v in x)
    return x


def _first_tensor(args):
    for x in args:
        if isinstance(x, Tensor):
            return x
        if type(x) in (list, tuple):
            t = _first_tensor(x)
            if t is not None:
                return t
    return None


def _widest(args, low, dev):
    """PyTorch's ``promote_type``: float32 if any eligible input is float32, else the low dtype."""
    to = low
    for x in args:
        if type(x) in (list, tuple):
            to = _widest(x, to, dev)
        elif isinstance(x, Tensor) and x.dtype is D.float32 and x.device.type == dev:
            return D.float32
    return to


def _target(name, args):
    """(dtype, device type) the inputs of op ``name`` cast to, or None where autocast leaves them."""
    t = _first_tensor(args)
    if t is None:
        return None
    dev = t.device.type
    if not _enabled.get(dev):
        return None
    policy = POLICIES[dev].get(name)
    if policy is None:
        return None
    if policy is _LOWER:
        return _dtypes[dev], dev
    if policy is _FP32:
        return D.float32, dev
    if policy is _BANNED:
        raise RuntimeError(_BCE_BANNED)
    return _widest(args, _dtypes[dev], dev), dev


class _Caster:
    """What ``ttorch.ops._op._autocast`` holds inside a region."""

    @staticmethod
    def inputs(name, inputs, attrs):
        """``Op.__call__``'s inputs, cast as op ``name``'s list says (unchanged if unlisted). An
        output dtype the public function derived from the inputs (an attr equal to their dtype)
        follows the cast: ``attrs`` is the call's own dict, updated in place."""
        tgt = _target(name, inputs)
        if tgt is None:
            return inputs
        to, dev = tgt
        src = _first_tensor(inputs).dtype
        if src is not to and src.is_floating_point and src is not D.float64:
            for k, v in attrs.items():
                if v is src:
                    attrs[k] = to
        return tuple([_cast(x, to, dev) for x in inputs])

    @staticmethod
    def call(name, fn, *args, **kwargs):
        """Run the composite ``fn`` (public name ``name``) on cast arguments, with autocast off
        inside it as PyTorch's wrappers do, so its parts keep the dtype chosen here. An unlisted
        ``name`` (a native op in PyTorch, such as ``avg_pool2d``) runs on its inputs as given."""
        # calls with ``out=`` or ``dtype=`` are not eligible (PyTorch): they run as given
        eligible = kwargs.get("out") is None and kwargs.get("dtype") is None
        tgt = _target(name, args + tuple(kwargs.values())) if eligible else None
        if tgt is not None:
            to, dev = tgt
            args = tuple([_cast(x, to, dev) for x in args])
            kwargs = {k: _cast(v, to, dev) for k, v in kwargs.items()}
        with _suspended():
            return fn(*args, **kwargs)


_CASTER = _Caster()


class _suspended:
    """Autocast off for every device type (restored on exit): composite internals, backward."""

    def __enter__(self):
        self._prev = dict(_enabled)
        _enabled["cpu"] = _enabled["cuda"] = False
        _op._autocast = None

    def __exit__(self, *exc):
        _enabled.update(self._prev)
        _sync()
        return False


# ---------------------------------------------------------------------------------------- autocast
class autocast:
    """Context manager and decorator: listed ops inside run in mixed precision.

    Args:
        device_type (str): ``'cuda'`` or ``'cpu'``.
        dtype (ttorch.dtype, optional): the lower precision; default: ``get_autocast_dtype(device_type)``
            (cuda: float16, cpu: bfloat16).
        enabled (bool): False turns autocast off inside (nested regions restore the outer state).
        cache_enabled (bool, optional): cache casts of leaf weights inside the region. Default: True.

    Example::

        >>> a = ttorch.ones(2, 3)
        >>> with ttorch.autocast("cpu"):
        ...     (a @ a.T).dtype, a.softmax(-1).dtype
        (ttorch.bfloat16, ttorch.float32)
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = _device_type(device_type)
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        enabled = bool(enabled)
        if self.device == "cpu" and self.fast_dtype not in (D.bfloat16, D.float16):
            if enabled:
                warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                              "CPU Autocast only supports dtype of torch.bfloat16, torch.float16 currently.")
            enabled = False
        if self.device == "cuda":
            if self.fast_dtype not in (D.bfloat16, D.float16):
                if enabled:
                    warnings.warn("In CUDA autocast, but the target dtype is not supported. Disabling autocast.\n"
                                  "CUDA Autocast only supports dtypes of torch.float16 and torch.bfloat16 currently.")
                enabled = False
            elif enabled:
                from .. import cuda
                if not cuda.is_available():
                    warnings.warn("User provided device_type of 'cuda', but CUDA is not available. Disabling")
                    enabled = False
        self._enabled = enabled
        self._saved = []

    def __enter__(self):
        self._saved.append((_enabled[self.device], _dtypes[self.device], _cache_enabled[0]))
        _nesting[0] += 1
        _enabled[self.device] = self._enabled
        _dtypes[self.device] = self.fast_dtype
        _cache_enabled[0] = self._cache_enabled
        _sync()
        return self

    def __exit__(self, *exc):
        _nesting[0] -= 1
        if _nesting[0] == 0:
            _cache.clear()
        _enabled[self.device], _dtypes[self.device], _cache_enabled[0] = self._saved.pop()
        _sync()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return decorate_autocast


# ---------------------------------------------------------------------------------------- custom Functions
def _cast_args(value, device_type, dtype):
    if isinstance(value, Tensor):
        ok = value.is_floating_point() and value.device.type == device_type and value.dtype is not D.float64
        return value.to(dtype) if ok else value
    if isinstance(value, dict):
        return {k: _cast_args(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_args(v, device_type, dtype) for v in value)
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for ``forward`` of a custom ``autograd.Function``: records the autocast state
    for ``custom_bwd``; with ``cast_inputs``, runs forward on inputs cast to it, autocast off."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        autocast_context = is_autocast_enabled(device_type)
        args[0]._fwd_used_autocast = False
        if autocast_context:
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast_args(args, device_type, cast_inputs), **_cast_args(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for ``backward`` of a custom ``autograd.Function``: runs it under the autocast
    state its forward saw."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        with autocast(device_type=device_type, enabled=args[0]._fwd_used_autocast, dtype=args[0]._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd
