"""ttorch: a small deep learning framework whose every primitive op is a Triton GPU kernel
with a NumPy CPU fallback and a backward rule. PyTorch's API: ``import ttorch as torch``.
"""
__version__ = "0.1.0"

import math as _math
import os as _os

from . import _malloc  # noqa: F401  (first: keep freed host memory for reuse, see _malloc.py)

# Triton 3.9 warns that its FP-fusion default changes in 3.10. We choose fusion (FMA
# contraction) deliberately, as PyTorch's own CUDA kernels are built with it.
_os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")

from ._dtype import (dtype, bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, half,
                     complex64, complex128, cfloat, cdouble,
                     float, double, short, int, long, get_default_dtype, set_default_dtype, promote_types,
                     result_type, finfo, iinfo, can_cast)
from ._dtype import (float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu,  # noqa: E402
                     uint16, uint32, uint64)
from ._device import device, set_default_device, get_default_device
from ._memory_format import (memory_format, contiguous_format, channels_last, channels_last_3d,  # noqa: E402
                             preserve_format, legacy_contiguous_format)
from ._device import device as _device_cls
from ._tensor import Tensor, Size
from . import cuda
from .autograd import (no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
                       is_inference_mode_enabled)
from . import autograd
from .autograd.anomaly_mode import is_anomaly_enabled, is_anomaly_check_nan_enabled, set_anomaly_enabled
from . import ops
from . import _operators
from ._random import Generator, default_generator
from .random import manual_seed, seed, initial_seed, get_rng_state, set_rng_state  # noqa: E402
from . import random  # noqa: E402  (ttorch.random: seeds, states, fork_rng)
from ._tensor_str import set_printoptions

globals().update(ops.FUNCTIONS)
from .ops.fake_quantize import PUBLIC as _fake_quantize_fns  # noqa: E402
globals().update(_fake_quantize_fns)
from ._quantized import (qint8, quint8, qint32, qscheme, per_tensor_affine, per_channel_affine,  # noqa: E402
                         per_tensor_symmetric, per_channel_symmetric, per_channel_affine_float_qparams)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.dtype.is_floating_point


pi, e, inf, nan, newaxis = _math.pi, _math.e, _math.inf, _math.nan, None   # (``float`` is ttorch.float here)


def numel(input):
    return input.numel()


def get_device(input):
    """The cuda index of ``input``'s device, -1 on the cpu."""
    return input.get_device()


def typename(obj):
    """PyTorch's type name of a tensor (``'torch.FloatTensor'``...), else the object's qualified type name."""
    if isinstance(obj, Tensor):
        return obj.type()
    t = type(obj)
    return t.__qualname__ if t.__module__ in ("builtins", "__builtin__", None) else f"{t.__module__}.{t.__qualname__}"


def broadcast_shapes(*shapes):
    from .ops.elementwise import broadcast_shapes as _b
    import builtins
    return Size(_b(*[(s,) if isinstance(s, builtins.int) else s for s in shapes]))     # (an int is a 1-d shape)


def from_dlpack(ext_tensor):
    from ._dlpack import from_dlpack as _f
    return _f(ext_tensor)


def get_device_module(device=None):
    """The module of ``device``'s type (``ttorch.cuda``, ``ttorch.cpu``); of the current
    accelerator (else the cpu) when ``device`` is None."""
    if isinstance(device, str):
        device = _device_cls(device)
    if device is None:
        device = accelerator.current_accelerator() or _device_cls("cpu")
    elif not isinstance(device, _device_cls):
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or None")
    mod = globals().get(device.type)
    if mod is None:
        raise RuntimeError(f"Device '{device.type}' does not have a corresponding module registered as "
                           f"'torch.{device.type}'.")
    return mod


def __getattr__(name):
    if name in ("complex32", "chalf"):      # (PEP 562: only names not found above come here)
        raise AttributeError(f"ttorch.{name}: ttorch has no complex32 (ComplexHalf) dtype; use complex64")
    dep = globals().get("_DEPRECATED_HAS", {}).get(name)     # (also asked while ttorch imports its submodules)
    if dep is not None:
        import warnings
        warnings.warn(f"'{name}' is deprecated, please use '{dep[0]}'", UserWarning, stacklevel=2)
        return dep[1]()
    if name == "has_mkl":                   # whether the BLAS under ttorch's cpu ops (NumPy's) is MKL
        from ._build_flags import numpy_blas_is_mkl
        globals()["has_mkl"] = v = numpy_blas_is_mkl()
        return v
    raise AttributeError(f"module 'ttorch' has no attribute '{name}'")

from . import nn  # noqa: E402  (last: nn builds on everything above)
from ._torch_nn import PUBLIC as _torch_nn  # noqa: E402  (torch.conv2d, torch.dropout...: ATen's signatures)
globals().update(_torch_nn)
from . import _tensor_more  # noqa: E402  (Tensor's in-place view ops, set_, apply_...)
_tensor_more.bind()
from ._api_more import public as _api_more  # noqa: E402  (torch.relu_, *_copy, asarray, frombuffer...)
globals().update(_api_more())
from . import _legacy_types  # noqa: E402  (ttorch.FloatTensor... and ttorch.cuda.FloatTensor...)
from ._legacy_types import set_default_tensor_type  # noqa: E402,F401
_legacy_types.install(globals(), cuda)
from ._typed_storage import public as _storages  # noqa: E402  (TypedStorage, ttorch.FloatStorage...)
globals().update(_storages())
from ._typed_storage import install_cuda as _install_cuda_storages  # noqa: E402
_install_cuda_storages(cuda)
from .nn.utils.weight_norm import norm_except_dim, _weight_norm  # noqa: E402,F401
from . import optim  # noqa: E402  (optimizers update nn parameters)
from .serialization import save, load  # noqa: E402
from . import serialization  # noqa: E402
from . import backends  # noqa: E402
from . import profiler  # noqa: E402
from . import linalg  # noqa: E402  (ttorch.linalg: norms, products)
from . import special  # noqa: E402  (ttorch.special: erf, gammaln, digamma...)
from . import fft  # noqa: E402  (ttorch.fft: discrete Fourier transforms)
from . import ao, quantization  # noqa: E402  (fake quantization for QAT; quantization: the older name)
from ._quantized import (quantize_per_tensor, quantize_per_channel, dequantize, int_repr,  # noqa: E402,F401
                         q_scale, q_zero_point, q_per_channel_scales, q_per_channel_zero_points,
                         q_per_channel_axis, quantize_per_tensor_dynamic, fused_moving_avg_obs_fake_quant)
from .autograd import profiler as _autograd_profiler  # noqa: E402,F401  (ttorch.autograd.profiler)
from .backends import set_float32_matmul_precision, get_float32_matmul_precision  # noqa: E402
from . import amp, cpu  # noqa: E402  (mixed precision)
from . import accelerator  # noqa: E402  (torch.accelerator: the device-generic API over cuda)
from ._stream import Stream, Event  # noqa: E402
from .cuda import OutOfMemoryError, AcceleratorError  # noqa: E402
from .cuda import amp as _cuda_amp  # noqa: E402,F401  (ttorch.cuda.amp)
from .amp import autocast  # noqa: E402
from .amp.autocast_mode import (is_autocast_enabled, get_autocast_dtype, set_autocast_enabled,  # noqa: E402
                                set_autocast_dtype, is_autocast_cache_enabled, set_autocast_cache_enabled,
                                clear_autocast_cache, is_autocast_available, is_autocast_cpu_enabled,
                                get_autocast_cpu_dtype, get_autocast_gpu_dtype)
from ._compile import compile  # noqa: E402
from . import utils  # noqa: E402  (data loading, checkpoint)
from . import testing, jit, version, types, compiler, hub  # noqa: E402  (PyTorch's utility modules)
from . import func  # noqa: E402  (torch.func: grad, vmap, functional_call...)
from . import distributions  # noqa: E402  (torch.distributions)
from . import distributed, multiprocessing  # noqa: E402  (process groups, collectives, spawn)
from . import futures  # noqa: E402  (ttorch.futures.Future: async results, DDP comm hooks)
from ._threads import set_num_threads, get_num_threads, set_num_interop_threads, get_num_interop_threads  # noqa: E402,E501
from ._deterministic import *  # noqa: E402,F401,F403  (use_deterministic_algorithms and its debug mode)
from ._layout import layout, strided, sparse_coo  # noqa: E402
from .sparse import sparse_coo_tensor  # noqa: E402  (sparse COO tensors)
from ._layout import sparse_csr, sparse_csc, sparse_bsr, sparse_bsc  # noqa: E402  (compressed ones)
from .sparse._compressed import (sparse_compressed_tensor, sparse_csr_tensor, sparse_csc_tensor,  # noqa: E402
                                 sparse_bsr_tensor, sparse_bsc_tensor)
from .sparse._coo_more import smm, hspmm, sspaddmm, dsmm  # noqa: E402  (legacy sparse products)
hsmm, saddmm = hspmm, sspaddmm
from . import sparse  # noqa: E402
from . import masked  # noqa: E402  (torch.masked: masked reductions, MaskedTensor)
from .ops.sparse_mm import mm, matmul, addmm, spmm  # noqa: E402,F811  (these take sparse operands too)
from . import signal  # noqa: E402  (ttorch.signal.windows)
from . import library  # noqa: E402  (custom operators: ttorch.library.custom_op, ttorch.ops.<ns>.<name>)
from .nested import jagged  # noqa: E402  (nested tensors: ttorch.nested and its layout ttorch.jagged)
from .nested import _nested_tensor_from_mask, _nested_tensor_from_mask_left_aligned  # noqa: E402,F401
from ._lobpcg import lobpcg  # noqa: E402  (LOBPCG eigensolver)
from ._cond import cond, while_loop  # noqa: E402  (torch.cond and torch.while_loop, eager)
from . import fx  # noqa: E402  (torch.fx: symbolic tracing, Graph, GraphModule, Interpreter)
from . import onnx  # noqa: E402  (torch.onnx.export: ONNX models written by ttorch's own encoder)
from . import export  # noqa: E402  (torch.export: ExportedProgram, Dim, save/load, unflatten)
from ._lowrank import svd_lowrank, pca_lowrank  # noqa: E402  (randomized low-rank SVD and PCA)
from ._segments import segment_reduce  # noqa: E402
_segment_reduce = segment_reduce       # (PyTorch has both names)
from . import overrides  # noqa: E402  (has_torch_function / handle_torch_function for library code)
from ._torch_function import DisableTorchFunction, DisableTorchFunctionSubclass  # noqa: E402,F401
from . import _C  # noqa: E402  (PyTorch's extension module's names that libraries import)
from ._dlpack import to_dlpack  # noqa: E402
from ._removed import FUNCTIONS as _removed_fns, METHODS as _removed_methods  # noqa: E402  (gone since 1.9)
globals().update({_n: _f for _n, _f in _removed_fns.items() if _n not in globals()})
for _n, _f in _removed_methods.items():
    if not hasattr(Tensor, _n):
        setattr(Tensor, _n, _f)
from . import return_types, storage, functional, torch_version, quasirandom  # noqa: E402,F401  (module paths)
from .storage import UntypedStorage  # noqa: E402
from .amp import GradScaler  # noqa: E402
from ._sym import (SymInt, SymFloat, SymBool, sym_int, sym_float, sym_max, sym_min, sym_not, sym_ite,  # noqa: E402
                   sym_sqrt, sym_sum)
from ._torch_rnn import lstm, gru, rnn_tanh, rnn_relu  # noqa: E402  (ATen's recurrences: nn.LSTM's calls)
from ._batch_norm_sync import (batch_norm_stats, batch_norm_gather_stats, batch_norm_elemt,  # noqa: E402
                               batch_norm_gather_stats_with_counts, batch_norm_backward_reduce,
                               batch_norm_backward_elemt, batch_norm_update_stats)
from ._threads import init_num_threads  # noqa: E402
native_channel_shuffle = nn.functional.native_channel_shuffle
from . import _tensor_compat  # noqa: E402  (resize, volatile, module_load, slice_inverse...)
_tensor_compat.bind()
from ._tensor_compat import slice_inverse, slogdet, unsafe_split_with_sizes  # noqa: E402,F811
from ._build_flags import has_lapack, has_openmp, has_spectral, DEPRECATED_HAS as _DEPRECATED_HAS  # noqa: E402
