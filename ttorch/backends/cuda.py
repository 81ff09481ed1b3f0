"""``ttorch.backends.cuda``: switches of cuda matrix products and attention.

``matmul.allow_tf32`` (default False, as PyTorch) makes float32 GEMMs on cuda (``matmul``,
``mm``, ``bmm``, ``addmm``, ``baddbmm``, ``linear``) run ``tl.dot`` with TF32 inputs (~1e-3
relative error, several times the throughput on A100/H100). It is the same state as
``ttorch.set_float32_matmul_precision``: True means "high", False "highest".

``matmul.allow_fp16_reduced_precision_reduction`` / ``allow_bf16_reduced_precision_reduction``
/ ``allow_fp16_accumulation`` and the SDPA switches (``enable_flash_sdp`` ...) are stored and
read back but change nothing: the Triton GEMM always accumulates half products in float32.
"""

_state = {"float32_matmul_precision": "highest", "allow_fp16_reduced_precision_reduction": True,
          "allow_bf16_reduced_precision_reduction": True, "allow_fp16_accumulation": False,
          "flash_sdp": True, "mem_efficient_sdp": True, "math_sdp": True, "cudnn_sdp": True}


def _tf32_matmul():
    """Whether float32 GEMMs on cuda may use TF32 (read by ``ttorch/ops/gemm.py`` per launch)."""
    return _state["float32_matmul_precision"] != "highest"


class cuBLASModule:
    """``ttorch.backends.cuda.matmul``: attributes read and write the shared state; unknown
    names raise ``AttributeError`` as PyTorch's do."""

    _FLAGS = ("allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction",
              "allow_fp16_accumulation")

    def __getattr__(self, name):
        if name == "allow_tf32":
            return _tf32_matmul()
        if name in self._FLAGS:
            return _state[name]
        raise AttributeError("Unknown attribute " + name)

    def __setattr__(self, name, value):
        if name == "allow_tf32":
            _state["float32_matmul_precision"] = "high" if value else "highest"
            return
        if name in self._FLAGS:
            _state[name] = value
            return
        raise AttributeError("Unknown attribute " + name)


matmul = cuBLASModule()


def is_built():
    """True: ttorch's cuda device (Triton kernels) is always part of the build."""
    return True


def _sdp(name):
    def enable(enabled):
        _state[name] = bool(enabled)

    def enabled():
        return _state[name]
    enable.__doc__ = f"Store the {name} switch (accepted for PyTorch programs; ttorch picks its own kernel)."
    enabled.__doc__ = f"The stored {name} switch."
    return enable, enabled


enable_flash_sdp, flash_sdp_enabled = _sdp("flash_sdp")
enable_mem_efficient_sdp, mem_efficient_sdp_enabled = _sdp("mem_efficient_sdp")
enable_math_sdp, math_sdp_enabled = _sdp("math_sdp")
enable_cudnn_sdp, cudnn_sdp_enabled = _sdp("cudnn_sdp")

__all__ = ["matmul", "is_built", "enable_flash_sdp", "flash_sdp_enabled", "enable_mem_efficient_sdp",
           "mem_efficient_sdp_enabled", "enable_math_sdp", "math_sdp_enabled", "enable_cudnn_sdp",
           "cudnn_sdp_enabled"]
