"""``ttorch.cuda``'s device queries: dtype support, architectures, initialisation, NVML readings,
the sync debug mode, and PyTorch's CUDA runtime error types.
"""
from . import _driver

__all__ = ["is_bf16_supported", "is_tf32_supported", "get_arch_list", "get_gencode_flags", "init", "is_initialized",
           "seed_all", "can_device_access_peer", "device_memory_used", "memory_usage", "utilization", "temperature",
           "power_draw", "clock_rate", "set_sync_debug_mode", "get_sync_debug_mode", "cudart", "cudaStatus",
           "CudaError", "check_error", "AcceleratorError", "ipc_collect", "has_half", "has_magma",
           "DeferredCudaCallError", "current_blas_handle", "current_solver_handle"]

has_half = True
has_magma = False       # (ttorch's linear algebra does not use MAGMA)


class DeferredCudaCallError(Exception):
    """PyTorch's error for a queued cuda call that failed at initialisation (ttorch queues none)."""

AcceleratorError = _driver.AcceleratorError

# The architectures ttorch's kernels are compiled and checked for ahead of time
# (``python -m ttorch.ops --compile 80,90``); on a GPU Triton compiles each kernel for the device
# at its first launch.
_ARCHS = ("sm_80", "sm_90")


def _index(device):
    from . import _index as idx
    return idx(device)


def _available():
    from . import is_available
    return is_available()


def is_bf16_supported(including_emulation=True):
    """Whether the current device supports bfloat16: compute capability 8.0 or newer (the
    simulated device: yes); older GPUs only by emulation, so ``including_emulation`` decides."""
    if not _available():
        return False
    from . import current_device, get_device_capability
    if get_device_capability(current_device())[0] >= 8:
        return True
    return bool(including_emulation)


def is_tf32_supported():
    """Whether the current device has TF32 tensor cores (natively bfloat16-capable, sm_80+)."""
    return is_bf16_supported(including_emulation=False)


def get_arch_list():
    """The CUDA architectures ttorch's kernels are built for: ``['sm_80', 'sm_90']``."""
    return list(_ARCHS)


def get_gencode_flags():
    """:func:`get_arch_list` as NVCC's ``-gencode`` flags (PyTorch's format)."""
    return " ".join(f"-gencode compute=compute_{a},code={k}_{a}" for k, a in (x.split("_") for x in get_arch_list()))


def init():
    """Initialise the cuda device (the driver, or the simulated device); a no-op once done.
    Raises RuntimeError where there is no cuda device."""
    _driver.backend()


def is_initialized():
    """Whether the cuda device has been initialised (by :func:`init` or a first use)."""
    return _driver._backend is not None


def seed_all():
    """Seed every device's generator with one fresh random number."""
    from .._random import cuda_generator
    from . import device_count
    seed = cuda_generator(0).seed()
    for i in range(1, max(device_count(), 1)):
        cuda_generator(i).manual_seed(seed)


def can_device_access_peer(device, peer_device):
    """Whether ``device`` can read ``peer_device``'s memory directly (``cuDeviceCanAccessPeer``).
    False on the simulated device, which has one device."""
    from . import device_count
    d, p = _index(device), _index(peer_device)
    n = device_count()
    if d < 0 or d >= n:
        raise AssertionError("Invalid device id")
    if p < 0 or p >= n:
        raise AssertionError("Invalid peer device id")
    if _driver.SIMULATED or d == p:
        return False
    be = _driver.backend()
    dev, peer = be._check(be.cu.cuDeviceGet(d))[0], be._check(be.cu.cuDeviceGet(p))[0]
    return bool(be._check(be.cu.cuDeviceCanAccessPeer(dev, peer))[0])


def _nvml(device):
    """An NVML handle for ``device``, as PyTorch's ``_get_pynvml_handler`` gets it (same errors)."""
    try:
        import pynvml
    except ImportError as e:
        raise ModuleNotFoundError("nvidia-ml-py does not seem to be installed or it can't be imported.") from e
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError_DriverNotLoaded as e:
        raise RuntimeError("cuda driver can't be loaded, is cuda enabled?") from e
    return pynvml, pynvml.nvmlDeviceGetHandleByIndex(_index(device))


def device_memory_used(device=None):
    """Used global memory of the device in bytes, as ``nvidia-smi`` reports it (needs ``pynvml``)."""
    nv, h = _nvml(device)
    return nv.nvmlDeviceGetMemoryInfo(h).used


def memory_usage(device=None):
    """Percent of the last sample period the device memory was read or written (``pynvml``)."""
    nv, h = _nvml(device)
    return nv.nvmlDeviceGetUtilizationRates(h).memory


def utilization(device=None):
    """Percent of the last sample period a kernel ran on the device (``pynvml``)."""
    nv, h = _nvml(device)
    return nv.nvmlDeviceGetUtilizationRates(h).gpu


def temperature(device=None):
    """The GPU die's temperature in degrees C (``pynvml``)."""
    nv, h = _nvml(device)
    return nv.nvmlDeviceGetTemperature(h, 0)


def power_draw(device=None):
    """The GPU's average power draw in mW (``pynvml``)."""
    nv, h = _nvml(device)
    return nv.nvmlDeviceGetPowerUsage(h)


def clock_rate(device=None):
    """The SM clock in MHz (``pynvml``)."""
    nv, h = _nvml(device)
    return nv.nvmlDeviceGetClockInfo(h, 1)


def set_sync_debug_mode(debug_mode):
    """Warn (``"warn"`` or 1) or raise (``"error"`` or 2) where the host waits for the device to
    read back results: ``.item()``, ``.cpu()``, ``.tolist()``, ``nonzero``, a cuda-to-cpu copy
    (ttorch's one device-to-host path). ``"default"`` or 0 turns it off. Explicit waits
    (``ttorch.cuda.synchronize``, events) never warn, as in PyTorch."""
    if isinstance(debug_mode, str):
        modes = {"default": 0, "warn": 1, "error": 2}
        if debug_mode not in modes:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, `error`")
        debug_mode = modes[debug_mode]
    _driver.SYNC_DEBUG[0] = int(debug_mode) if int(debug_mode) in (1, 2) else 0


def get_sync_debug_mode():
    """The mode :func:`set_sync_debug_mode` set: 0, 1 or 2."""
    return _driver.SYNC_DEBUG[0]


def cudart():
    """PyTorch's CUDA runtime module. ttorch calls the CUDA *driver* API through NVIDIA's
    ``cuda-bindings`` and has no runtime module: use ``cuda.bindings.runtime`` directly."""
    raise RuntimeError("ttorch.cuda.cudart(): ttorch has no CUDA runtime (cudart) module; it uses the CUDA driver "
                       "API through cuda-bindings. Use cuda.bindings.runtime, or ttorch.cuda.mem_get_info() and "
                       "the profiler for what cudart() usually serves.")


class cudaStatus:
    SUCCESS: int = 0
    ERROR_NOT_READY: int = 34


_CUDA_ERRORS = {1: "invalid argument", 2: "out of memory", 34: "device not ready", 101: "invalid device ordinal",
                700: "an illegal memory access was encountered"}


class CudaError(RuntimeError):
    """A CUDA runtime error code as an exception: ``"<message> (<code>)"``."""

    def __init__(self, code):
        msg = _CUDA_ERRORS.get(int(code))
        if msg is None and not _driver.SIMULATED:
            try:
                from cuda.bindings import runtime
                msg = runtime.cudaGetErrorString(runtime.cudaError_t(int(code)))[1].decode()
            except Exception:       # no cuda-bindings, or a code it does not know
                msg = None
        super().__init__(f"{msg or 'unknown error'} ({code})")


def check_error(res):
    """Raise :class:`CudaError` unless ``res`` (a CUDA return code) is success."""
    if int(res) != cudaStatus.SUCCESS:
        raise CudaError(res)


def current_blas_handle():
    """PyTorch's cuBLAS handle. ttorch's matrix products are Triton kernels: there is no handle."""
    raise RuntimeError("ttorch.cuda.current_blas_handle(): ttorch does not use cuBLAS (its matmuls are Triton "
                       "kernels), so there is no cuBLAS handle")


def current_solver_handle():
    """PyTorch's cuSOLVER handle; ttorch does not use cuSOLVER."""
    raise RuntimeError("ttorch.cuda.current_solver_handle(): ttorch does not use cuSOLVER, so there is no handle")


def ipc_collect():
    """Nothing to collect: ttorch shares no cuda memory between processes."""
