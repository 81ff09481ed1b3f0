"""Ahead-of-time compilation of kernel configurations with no GPU.

``triton.compile(ASTSource(...), target=GPUTarget("cuda", cap, 32))`` builds PTX and a cubin
on any machine; this catches what the interpreter can't (``tl.dot`` shapes, shared memory,
unsupported dtypes). Each op lists its configurations as ``KernelSpec``s; the ``ASTSource``
call lives only here because its format changes between Triton releases.
"""
import time


class KernelSpec:
    """One configuration of a kernel: argument types (``*fp32``, ``i32``, ``constexpr``) and constexpr values."""

    def __init__(self, kernel, signature, constexprs, num_warps=4, num_stages=3, label="", divisible=()):
        self.kernel = kernel
        self.signature = dict(signature)
        self.constexprs = dict(constexprs)
        self.num_warps = num_warps
        self.num_stages = num_stages
        self.label = label
        # arguments (pointers or ints) that Triton's launcher would find divisible by 16 and mark so
        self.divisible = tuple(divisible)

    @property
    def name(self):
        return getattr(self.kernel, "__name__", None) or self.kernel.fn.__name__

    def compile(self, cap):
        import triton
        from triton.compiler import ASTSource
        from triton.backends.compiler import GPUTarget
        for k in self.constexprs:
            self.signature[k] = "constexpr"
        names = self.kernel.arg_names
        attrs = {(names.index(a),): [["tt.divisibility", 16]] for a in self.divisible}
        src = ASTSource(fn=self.kernel, signature=self.signature, constexprs=self.constexprs, attrs=attrs)
        t0 = time.time()
        k = triton.compile(src, target=GPUTarget("cuda", cap, 32),
                           options={"num_warps": self.num_warps, "num_stages": self.num_stages})
        md = k.metadata
        return {"kernel": self.name, "label": self.label, "cap": cap, "regs": resource_usage(k.asm["cubin"]),
                "shared": md.shared, "num_warps": md.num_warps, "seconds": round(time.time() - t0, 2)}


def ptr(dtype):
    """Signature type of a pointer to ``dtype`` (a ttorch dtype)."""
    return "*" + dtype.tl_name


def resource_usage(cubin):
    """Registers per thread from ``cuobjdump --dump-resource-usage`` (Triton bundles it), or None."""
    import os
    import re
    import subprocess
    import tempfile
    import triton
    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")
    if not os.path.exists(tool):
        return None
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        try:
            out = subprocess.run([tool, "--dump-resource-usage", f.name], capture_output=True, text=True,
                                 timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return None
    m = re.search(r"REG:(\d+)", out)
    return int(m.group(1)) if m else None
