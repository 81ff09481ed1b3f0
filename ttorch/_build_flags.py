"""PyTorch's build flags (``ttorch.has_lapack``...) with ttorch's true values.

ttorch is pure Python over NumPy and Triton: LAPACK is there (NumPy's, under ``ttorch.linalg`` on the
cpu), spectral ops are (``ttorch.fft``), OpenMP is not (no ttorch code is built with it), and MKL is
there exactly when NumPy's BLAS is MKL (``has_mkl``, looked up on first use). ``has_cuda``,
``has_cudnn``, ``has_mps`` and ``has_mkldnn`` warn as deprecated, as in PyTorch.
"""
has_lapack = True
has_spectral = True
has_openmp = False


def numpy_blas_is_mkl():
    import numpy as np
    try:
        cfg = np.show_config(mode="dicts")
    except TypeError:                 # NumPy < 1.25: no dict mode
        return "mkl" in str(getattr(np, "__config__", "")).lower()
    blas = cfg.get("Build Dependencies", {}).get("blas", {})
    return "mkl" in str(blas.get("name", "")).lower()


def _cuda_built():
    from .backends import cuda
    return cuda.is_built()


def _cudnn():
    from .backends import cudnn
    return cudnn.is_available()


def _mps():
    from .backends import mps
    return mps.is_built()


DEPRECATED_HAS = {"has_cuda": ("torch.backends.cuda.is_built()", _cuda_built),
                  "has_cudnn": ("torch.backends.cudnn.is_available()", _cudnn),
                  "has_mps": ("torch.backends.mps.is_built()", _mps),
                  "has_mkldnn": ("torch.backends.mkldnn.is_available()", lambda: False)}
