"""Compile what the benchmark training steps launch, specialized as Triton's launcher would.

``python -m ttorch.ops --compile`` compiles the configurations each op declares; a launch may differ
from them in what Triton specializes on (an int argument equal to 1 becomes the constexpr 1, pointers
and ints divisible by 16 are marked so), and ptxas then makes different code. This script runs a
few steps of each of the harness's training steps (MLP, CNN, GPT-2-like, at the GPU sizes) and
its op cases ("ops", the whole sweep: softmax, norms, cross-entropy, GEMMs, conv, SDPA) on the GPU's
real host path over a stand-in device (fake memory, launches recorded, nothing computed), collects
every distinct launch as Triton's launcher keys it, and compiles each ahead of time, reporting
the spills (ptxas's count, as ``python -m ttorch.ops --compile``); each capability of ``--caps`` is
collected on its own (the stand-in reports it: Hopper's TMA paths launch at 90 only). No GPU needed. It exits non-zero
when a launch fails to compile; CI runs it after the op configurations.

    python benchmarks/census.py [--caps 80,90] [--models mlp,cnn,gpt,ops] [--layers 2] [--jobs 2]

``--models tune`` launches instead every configuration each tunable kernel may pick, at its tuning
problems (what runs after ``python -m ttorch.tune``): about 900 launches, 6 minutes on 2 cores.
"""
import argparse
import os
import sys
import threading
import types

os.environ["TRITON_INTERPRET"] = "0"    # real kernels (JITFunctions) and the real GPU's tiles and rules
os.environ.pop("TTORCH_TUNE_CACHE", None)  # the untuned heuristics (stored winners are the tuner's choice)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ttorch  # noqa: E402
from ttorch import tune  # noqa: E402
from ttorch.cuda import _driver  # noqa: E402
from ttorch.ops import _launch as L, elementwise as E  # noqa: E402

_SEEN = {}      # repr -> (kernel, signature, constexprs, divisible, num_warps, num_stages, maxnreg)
_KEYS = set()   # the launch keys seen
_SKIPPED = set()    # kernels launched with arguments the census can't rebuild
_OPTIONS = ("num_warps", "num_stages", "num_ctas", "maxnreg")


class _Memory(_driver._Real):
    """Device memory that is only addresses: 256-byte aligned, as cuMemAllocAsync's."""

    def __init__(self):
        self.cu = types.SimpleNamespace(CUresult=types.SimpleNamespace(CUDA_SUCCESS=0, CUDA_ERROR_OUT_OF_MEMORY=2),
                                        cuMemAllocAsync=self._alloc, cuCtxSetCurrent=lambda ctx: (0,))
        self.count, self.contexts, self.cached = 1, {0: object()}, {}
        self.staging = {0: types.SimpleNamespace(upload=lambda *a: True)}
        self._tls, self._next = threading.local(), 1 << 32
        self._tls.bound = 0

    def _alloc(self, nbytes, stream):
        p = self._next
        self._next += (nbytes + 255) // 256 * 256
        return 0, p

    def device_name(self, index):
        return "census stand-in"

    cap = (9, 0)        # main() collects each --caps entry's launches in turn

    def capability(self, index):
        return self.cap

    def sm_count(self, index):
        return 132

    def synchronize(self, *a, **k):
        pass


def _record(kernel, dev, args, meta, mkey=None):
    """``_launch._fast_key`` wrapped: each launch's specialization, as Triton's launcher sees it."""
    key, vals = _fast_key(kernel, dev, args, meta, mkey)
    if key not in _KEYS:
        _KEYS.add(key)
        sig, ce, div = {}, {}, []
        for p, a in zip(kernel.params, args):
            if p.is_constexpr:
                ce[p.name] = a
            elif hasattr(a, "dtype") and hasattr(a, "data_ptr"):
                sig[p.name] = "*" + a.dtype.tl_name
                if a.data_ptr() % 16 == 0:
                    div.append(p.name)
            elif type(a) is bool or a is None:
                ce[p.name] = a
            elif type(a) is int:
                if a == 1:
                    ce[p.name] = 1
                else:
                    sig[p.name] = "i32" if -2 ** 31 <= a < 2 ** 31 else "i64"
                    if a % 16 == 0:
                        div.append(p.name)
            elif type(a) is float:
                sig[p.name] = "fp32"
            elif type(a) is L._TensorDescriptor:     # a host TMA descriptor: its dtype and block
                sig[p.name] = f"tensordesc<{a.base.dtype.tl_name}[{','.join(map(str, a.block_shape))}]>"
            else:
                sig = None          # an argument this census doesn't rebuild
                _SKIPPED.add(kernel.fn.__name__)
                break
        if sig is not None:
            ce.update({k: v for k, v in meta.items() if k not in _OPTIONS})
            item = (kernel, sig, ce, tuple(div), meta.get("num_warps", 4), meta.get("num_stages", 3),
                    meta.get("maxnreg"))
            _SEEN[repr(item)] = item
    return key, vals


class _Launches(dict):
    def get(self, key, default=None):
        if key not in self:
            self[key] = (lambda *a: None, (None,) * 5, ())
        return dict.get(self, key)


def install():
    """The GPU's host path over the stand-in: real planning and keying, no-op launches."""
    global _fast_key
    for mod in (L, E):
        mod.SIMULATED = False
    _driver.SIMULATED = False
    _driver._backend = _Memory()
    L._FAST = _Launches()
    L._FAST_ON = [True]
    L._JIT_RUN = [type(E._ew_contig_kernel).run]
    L._knobs = types.SimpleNamespace(launch_enter_hook=None, launch_exit_hook=None)
    _fast_key = L._fast_key
    L._fast_key = _record
    tune._winners = {}
    from ttorch.cuda import _checks
    _checks._buffers, _checks._views = {}, {}


def collect(models, layers):
    from benchmarks import cases as C, models as M
    steps = {"mlp": lambda: M._mlp(ttorch, "cuda", 256, 1024),
             "cnn": lambda: M._cnn(ttorch, "cuda", 128),
             "gpt": lambda: M._gpt(ttorch, "cuda", batch=8, block=1024, layers=layers, dim=768, heads=12, vocab=50304)}
    for name in models:
        if name == "ops":
            runs = [case.setups["ttorch"]() for case in C.op_cases({"ttorch": ttorch}, "cuda", False)]
        elif name == "tune":
            runs = _tuned_runs()
        else:
            runs = [steps[name]()]
        for run in runs:
            for _ in range(3):      # the second and third calls replay plans: the same launches
                run()
    return list(_SEEN.values())


def _tuned_runs():
    """Every configuration each tunable kernel may pick, launched at its tuning problems as the
    tuner times it (``Tunable.bench``): what runs after ``python -m ttorch.tune``."""
    runs = []
    for t in tune.registered().values():
        for problem in t.problems(False):
            for cfg in t.configs(t.key(*problem)):
                try:
                    runs.append(t.bench(cfg, *problem))
                except Exception as e:   # (a configuration the problem can't take: the tuner skips it too)
                    print(f"skipped {t.name} {problem} {cfg}: {type(e).__name__}")
    return runs


def _compile(item):
    from ttorch.ops._aot import KernelSpec
    kernel, sig, ce, div, warps, stages, maxnreg, cap = item
    spec = KernelSpec(kernel, dict(sig), dict(ce), num_warps=warps, num_stages=stages, divisible=div, maxnreg=maxnreg)
    label = f"sm_{cap} {spec.name} w{warps} s{stages} " + " ".join(f"{k}={v}" for k, v in ce.items()
                                                            if not callable(v) and k.isupper())
    try:
        r = spec.compile(cap)
        return label, r["regs"], r["spills"] or 0, None
    except Exception as e:      # reported, the rest go on
        return label, None, None, f"{type(e).__name__}: {str(e).strip().splitlines()[-1][:120] if str(e) else ''}"


def _compile_at(i):
    return _compile(_ITEMS[i])


_ITEMS = []


def main(argv=None):
    from concurrent.futures import ProcessPoolExecutor
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--caps", default="80,90")
    ap.add_argument("--models", default="mlp,cnn,gpt,ops")
    ap.add_argument("--layers", type=int, default=2, help="GPT-2-like blocks (each launches the same kernels)")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    install()
    from ttorch.ops import _plan
    _ITEMS.clear()
    for cap in args.caps.split(","):
        # each capability's own launches: Hopper's TMA kernels and tiles are never compiled for sm_80
        _driver._backend.cap = divmod(int(cap), 10)
        _plan.clear()                                   # (plans recorded at another capability)
        _SEEN.clear()
        _KEYS.clear()
        found = collect(args.models.split(","), args.layers)
        print(f"sm_{cap}: {len(found)} distinct launches"
              + (f"; not rebuilt: {', '.join(sorted(_SKIPPED))}" if _SKIPPED else ""))
        _ITEMS.extend(item + (int(cap),) for item in found)
    failed, spilling = 0, {cap: 0 for cap in args.caps.split(",")}
    with ProcessPoolExecutor(args.jobs) as pool:        # (forked: the workers see _ITEMS)
        for (label, regs, spills, err), item in zip(pool.map(_compile_at, range(len(_ITEMS))), _ITEMS):
            if err:
                failed += 1
                print(f"FAIL {label}: {err}")
            elif spills:
                spilling[str(item[-1])] += 1
                print(f"SPILLS {label}: regs={regs} {spills} B")
    for cap, n in spilling.items():
        print(f"sm_{cap}: {n} launched configurations spill registers to local memory")
    print(f"{len(_ITEMS)} compiled, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
