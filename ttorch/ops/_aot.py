"""Ahead-of-time compilation of kernel configurations with no GPU.

``triton.compile(ASTSource(...), target=GPUTarget("cuda", cap, 32))`` builds PTX and a cubin
on any machine; this catches what the interpreter can't (``tl.dot`` shapes, shared memory,
unsupported dtypes). Each op lists its configurations as ``KernelSpec``s; the ``ASTSource``
call lives only here because its format changes between Triton releases.
"""
import time


class KernelSpec:
    """One configuration of a kernel: argument types (``*fp32``, ``i32``, ``constexpr``) and constexpr values."""

    def __init__(self, kernel, signature, constexprs, num_warps=4, num_stages=3, label="", divisible=(), min_cap=0,
                 maxnreg=None):
        self.kernel = kernel
        self.signature = dict(signature)
        self.constexprs = dict(constexprs)
        self.num_warps = num_warps
        self.num_stages = num_stages
        self.label = label
        # arguments (pointers or ints) that Triton's launcher would find divisible by 16 and mark so
        self.divisible = tuple(divisible)
        # the lowest compute capability the launch path runs it on (90: a TMA kernel, Hopper only)
        self.min_cap = min_cap
        self.maxnreg = maxnreg      # the launch's ``maxnreg`` (None: ptxas's choice)

    def with_ones(self):
        """This configuration as Triton's launcher specializes it when every integer argument is 1.

        Triton's launcher turns an ``int`` argument equal to 1 into the constexpr 1 (3.6, the GPU
        machine's, and 3.9 alike: ``native_specialize_impl(..., 1, ...)`` gives ``('constexpr', 1)``),
        so a kernel that calls ``.to()`` on a scalar argument fails to compile only for that value,
        and a unit stride passed as an argument still gives 16-byte loads; the interpreter never
        specializes."""
        sig = {k: v for k, v in self.signature.items()}
        ce = dict(self.constexprs)
        for k, v in sig.items():
            if v in ("i32", "i64") and k not in self.divisible and k not in ce:
                ce[k] = 1
        return KernelSpec(self.kernel, sig, ce, self.num_warps, self.num_stages,
                          (self.label + " ints=1").strip(), self.divisible, self.min_cap, self.maxnreg)

    @property
    def name(self):
        return getattr(self.kernel, "__name__", None) or self.kernel.fn.__name__

    def compile(self, cap):
        import triton
        from triton.compiler import ASTSource
        from triton.backends.compiler import GPUTarget
        for prm in self.kernel.params:     # a constexpr the spec leaves out: its default, as a launch has it
            if prm.is_constexpr and prm.has_default and prm.name not in self.constexprs:
                self.constexprs[prm.name] = prm.default
        for k in self.constexprs:
            self.signature[k] = "constexpr"
        names = self.kernel.arg_names
        attrs = {(names.index(a),): [["tt.divisibility", 16]] for a in self.divisible}
        src = ASTSource(fn=self.kernel, signature=self.signature, constexprs=self.constexprs, attrs=attrs)
        t0 = time.time()
        options = {"num_warps": self.num_warps, "num_stages": self.num_stages}
        if self.maxnreg is not None:
            options["maxnreg"] = self.maxnreg
        k = triton.compile(src, target=GPUTarget("cuda", cap, 32), options=options)
        md = k.metadata
        usage = resource_usage(k.asm["cubin"]) or {"regs": None, "local": None, "stack": None}
        # a stack frame holds spilled registers, or a local array (sin's slow path reduces through one):
        # ptxas's own count tells them apart
        usage["spills"] = spill_stores(k.asm["ptx"], cap, options) if usage["stack"] or usage["local"] else 0
        return {"kernel": self.name, "label": self.label, "cap": cap, **usage,
                "shared": md.shared, "num_warps": md.num_warps, "seconds": round(time.time() - t0, 2)}


def ptr(dtype):
    """Signature type of a pointer to ``dtype`` (a ttorch dtype)."""
    return "*" + dtype.tl_name


def spill_stores(ptx, cap, options):
    """Bytes of spill stores ptxas reports for ``ptx`` (a kernel's PTX for sm_``cap``), run as Triton runs
    it (the installed backend's ``make_cubin``, its flags, its log), or None where the log says nothing."""
    import contextlib
    import io
    import re
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.backends.nvidia.compiler import CUDABackend
    backend = CUDABackend(GPUTarget("cuda", cap, 32))
    old, triton.knobs.nvidia.dump_ptxas_log = triton.knobs.nvidia.dump_ptxas_log, True
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log):
            backend.make_cubin(ptx, {}, backend.parse_options(options), cap)
    except Exception:           # (no ptxas to ask: the frame stays unexplained, reported as spills)
        return None
    finally:
        triton.knobs.nvidia.dump_ptxas_log = old
    m = re.search(r"(\d+) bytes spill stores", log.getvalue())
    return int(m.group(1)) if m else None


def resource_usage(cubin):
    """``{"regs", "local", "stack"}`` per thread from ``cuobjdump --dump-resource-usage`` (Triton
    bundles it), or None. ``stack`` is the thread's stack frame: spilled registers (``spill_stores``
    counts them) or a local array (a Triton kernel makes no calls)."""
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
    found = {k.lower(): int(v) for k, v in re.findall(r"\b(REG|LOCAL|STACK):(\d+)", out)}
    return {"regs": found.get("reg"), "local": found.get("local", 0), "stack": found.get("stack", 0)} if found else None
