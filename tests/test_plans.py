"""Planned elementwise launches (``ops/elementwise.py``, ``Plan``), checked without a GPU: the real
GPU's host path with the launcher replaced by a recorder and device memory by a stand-in allocator
(integer addresses, nothing behind them). A planned call must hand the launcher exactly what the
usual path does; every condition a plan depends on must send the call back to the usual path. On a
GPU the whole suite runs through plans for real."""
import contextlib
import math
import threading
import types

import pytest

import ttorch
from ttorch import tune
from ttorch.cuda import _driver
from ttorch.ops import _launch as L, _plan as P, elementwise as E



class _Memory(_driver._Real):
    """``_Real``'s cache in front of an allocator that hands out addresses and nothing else."""

    def __init__(self):
        self.cu = types.SimpleNamespace(CUresult=types.SimpleNamespace(CUDA_SUCCESS=0, CUDA_ERROR_OUT_OF_MEMORY=2),
                                        cuMemAllocAsync=self._alloc, cuCtxSetCurrent=lambda ctx: (0,))
        self.count, self.contexts, self.cached = 1, {0: object()}, {}
        self.staging = {0: types.SimpleNamespace(upload=lambda *a: True)}     # uploads: nothing behind them
        self._tls, self._next = threading.local(), 1 << 32
        self._tls.bound = 0

    def _alloc(self, nbytes, stream):
        self._next += nbytes
        return 0, self._next - nbytes

    def device_name(self, index):
        return "stand-in"

    def capability(self, index):
        return (9, 0)

    def sm_count(self, index):
        return 132


class _Launches(dict):
    """The fast path's cache, where every key has an entry: one recorder per specialization."""

    def __init__(self):
        super().__init__()
        self.log = []

    def get(self, key, default=None):
        if key not in self:
            def run(gx, gy, gz, stream, *rest, key=key):
                self.log.append((key, (gx, gy, gz), rest[5:]))      # past function, metadata and hooks
            self[key] = (run, (None,) * 5, ())
        return dict.get(self, key)


@pytest.fixture
def gpu(monkeypatch):
    if not _driver.SIMULATED:
        pytest.skip("a real GPU runs plans for real (test_on_a_gpu_*)")
    for mod in (L, E):
        monkeypatch.setattr(mod, "SIMULATED", False)
    monkeypatch.setattr(_driver, "SIMULATED", False)
    monkeypatch.setattr(_driver, "_backend", _Memory())
    launches = _Launches()
    monkeypatch.setattr(L, "_FAST", launches)
    monkeypatch.setattr(L, "_FAST_ON", [True])
    monkeypatch.setattr(L, "_JIT_RUN", [type(E._ew_contig_kernel).run])
    monkeypatch.setattr(L, "_knobs", types.SimpleNamespace(launch_enter_hook=None, launch_exit_hook=None))
    monkeypatch.setattr(L, "_CONSTEXPR_AT", types.SimpleNamespace(get=lambda k, d=None: ()))
    monkeypatch.setattr(tune, "_winners", {})
    P.clear()                                          # no plan made by an earlier test
    from ttorch.cuda import _checks                    # nor a fault buffer in the stand-in's memory after this one
    monkeypatch.setattr(_checks, "_buffers", {})
    monkeypatch.setattr(_checks, "_views", {})
    from ttorch.ops import indexing                    # nor an index kernel's sizes uploaded to it
    monkeypatch.setattr(indexing, "_CONSTANTS", {})
    planned = []
    real_run = E.run_plan
    monkeypatch.setattr(E, "run_plan", lambda *a: (lambda r: planned.append(r is not None) or r)(real_run(*a)))
    for mod in ("binary", "unary", "ternary"):
        monkeypatch.setattr(f"ttorch.ops.{mod}.run_plan", E.run_plan)
    yield types.SimpleNamespace(log=launches.log, planned=planned)
    P.clear()                                          # plans over the stand-in's launchers


def _t(*shape, dtype=ttorch.float32, requires_grad=False):
    return ttorch.empty(*shape, dtype=dtype, device="cuda").requires_grad_(requires_grad)


@contextlib.contextmanager
def _op(name, cuda):
    """A plannable op over ``cuda`` (no other global state), registered for the block's duration."""
    from ttorch.ops._op import Op, REGISTRY
    try:
        yield Op(name, cuda=cuda, plan_state=tuple)
    finally:
        REGISTRY.pop(name, None)


def _same_launches(gpu, f, calls=4):
    """Run ``f`` ``calls`` times: the first two take the usual path (the second makes the plan), the
    others run it; each must launch the same kernel with the same arguments, but for its own output's
    address."""
    outs = []
    for _ in range(calls):
        gpu.log.clear()
        r = f()
        outs.append(r)
        ((key, grid, args),) = gpu.log
        if len(outs) == 1:
            first = (key, grid, args[1:])
        else:
            assert (key, grid, args[1:]) == first
        assert args[0] == r.data_ptr()
    return outs


CASES = {
    "add": lambda x, y: x + y,
    "sub alpha default": lambda x, y: ttorch.sub(x, y),
    "mul by a float": lambda x, y: x * 2.5,
    "float times tensor": lambda x, y: 0.5 * x,
    "int scalar on floats": lambda x, y: x + 3,
    "relu": lambda x, y: ttorch.relu(x),
    "exp": lambda x, y: x.exp(),
    "leaky_relu": lambda x, y: ttorch.nn.functional.leaky_relu(x, 0.2),
    "gelu tanh": lambda x, y: ttorch.nn.functional.gelu(x, approximate="tanh"),
    "comparison": lambda x, y: x < y,
    # broadcast and strided operands: the strided kernel, its sizes and strides planned with the launch
    "broadcast row": lambda x, y: x * y[0],
    "expanded 0-dim (a sum's gradient)": lambda x, y: y[0, 0].expand(3, 5) * x,
    "transposed operands": lambda x, y: x.t() + y.t(),
    "relu of a transposed view": lambda x, y: ttorch.relu(x.t()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_planned_call_launches_what_the_usual_path_does(gpu, case):
    x, y = _t(3, 5), _t(3, 5)
    _same_launches(gpu, lambda: CASES[case](x, y))
    assert gpu.planned == [True, True]


TERNARY = {
    "where": lambda c, x, y: ttorch.where(c, x, y[0]),
    "where with a scalar": lambda c, x, y: ttorch.where(c, x, 0.0),
    "clamp": lambda c, x, y: x.clamp(-1.0, 2.5),
    "lerp": lambda c, x, y: x.lerp(y, 0.25),
    "addcmul": lambda c, x, y: x.addcmul(y, x, value=0.5),
    "addcdiv of transposed operands": lambda c, x, y: x.t().addcdiv(y.t(), x.t()),
}


@pytest.mark.parametrize("case", list(TERNARY))
def test_ternary_ops_are_planned_as_binary_ops_are(gpu, case):
    # one launch, the operands' addresses in known places, scalars and parameters baked (by value)
    c, x, y = _t(3, 5, dtype=ttorch.bool), _t(3, 5), _t(3, 5)
    _same_launches(gpu, lambda: TERNARY[case](c, x, y))
    assert gpu.planned == [True, True]


def test_a_ternary_plan_is_keyed_by_each_operands_device(gpu):
    # the plan is looked up before the operands' checks: a cpu operand of the planned shape is not served it
    c, x, y = _t(3, 5, dtype=ttorch.bool), _t(3, 5), _t(3, 5)
    for _ in range(3):
        ttorch.where(c, x, y)
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        ttorch.where(c, x, ttorch.zeros(3, 5))
    assert gpu.planned == [True]


def test_a_ternary_plan_made_in_place_serves_new_outputs(gpu):
    x, y = _t(3, 5), _t(3, 5)
    _into(gpu, lambda: x.lerp_(y, 0.25), x)            # seen, made in place, run in place twice
    gpu.log.clear()
    r = x.lerp(y, 0.25)
    assert gpu.planned[-1] is True and gpu.log[0][2][0] == r.data_ptr() != x.data_ptr()


def test_half_and_0_dim_operands(gpu):
    x, y = _t(dtype=ttorch.float16), _t(dtype=ttorch.float16)
    _same_launches(gpu, lambda: x * y)
    assert gpu.planned == [True, True]


def test_a_scalar_operand_is_passed_per_call(gpu):
    x = _t(4)
    for v in (2.0, 3.0, -1.5, 7.25, 7, 8, 9, 10):    # an int scalar has a key of its own (promotion)
        gpu.log.clear()
        x * v
        assert gpu.log[0][2][2] == float(v)
    assert gpu.planned == [True] * 4                   # the first two of each key plan it


def test_a_key_seen_once_is_not_planned(gpu, monkeypatch):
    # a stream of shapes that never come back costs no plans; the second sighting makes one
    made = []
    real = E.make_plan
    monkeypatch.setattr("ttorch.ops.binary.make_plan", lambda *a: made.append(1) or real(*a))
    for n in range(1001, 1006):
        gpu.log.clear()
        r = _t(n) + _t(n)
        assert gpu.log[0][2][0] == r.data_ptr()
    assert made == []
    _t(1001) + _t(1001)
    assert made == [1]


def test_an_int_scalar_of_an_integer_op_has_a_plan_per_value(gpu):
    # Triton specializes an int argument on its value (1, a multiple of 16): an integer op bakes it
    # into its plan, the value in the key (a float op takes it per call, as a float: above)
    x = _t(4, dtype=ttorch.int32)
    keys = []
    for v in (3, 1, 16):
        outs = _same_launches(gpu, lambda: x + v, calls=3)
        keys.append(gpu.log[0][0])
        assert gpu.log[0][2][2] == v and all(r.dtype is ttorch.int32 for r in outs)
    assert gpu.planned == [True] * 3 and len(set(keys)) == 3


def _into(gpu, f, out, calls=4):
    """Run ``f`` (writing ``out`` in place) ``calls`` times: each launches into ``out`` the kernel the
    first did, with the same arguments (the second call's launch recorded as the plan, the later ones
    the plan's); the version counter moves each time."""
    for i in range(calls):
        gpu.log.clear()
        v = out._version
        assert f() is out and out._version == v + 1
        ((key, grid, args),) = gpu.log
        if i == 0:
            first = (key, grid, args)
        assert (key, grid, args) == first and args[0] == out.data_ptr()


def test_in_place_and_out_calls_run_the_out_of_place_plan_into_their_output(gpu):
    x, y, z = _t(3, 5), _t(3, 5), _t(3, 5)
    _into(gpu, lambda: x.add_(y), x)
    assert gpu.planned == [True] * 2                    # the second call records its launch as the plan
    _into(gpu, lambda: ttorch.mul(x, y, out=z), z)
    _into(gpu, lambda: x.mul_(0.5), x)
    count = ttorch.zeros((), dtype=ttorch.int64, device="cuda")    # BatchNorm's num_batches_tracked
    _into(gpu, lambda: count.add_(1), count)
    assert gpu.planned == [True] * 8
    x + y                                               # the same key out of place: the same plan
    assert gpu.planned[-1] is True


def test_copies_into_a_contiguous_tensor_are_planned(gpu):
    # copy_into (Tensor.copy_, and in-place ops computed out of place: relu_) runs a plan of the copy
    # per (dtypes, shapes, source strides); into a strided or misaligned tensor it launches as usual
    x, y, h = _t(3, 5), _t(3, 5), _t(5, 3, dtype=ttorch.float16)
    _into(gpu, lambda: x.copy_(y), x)
    _into(gpu, lambda: x.copy_(h.t()), x)               # a cast from a strided source
    tail = _t(32)[16:]                                  # a view at an aligned offset
    _into(gpu, lambda: tail.copy_(_t(4, 4).reshape(16)), tail)
    assert gpu.planned == [True] * 6
    _unlike_outputs_take_the_usual_path(gpu, lambda dst, src: dst.copy_(src))
    for _ in range(3):                                  # relu_: relu's plan, then the copy's
        gpu.log.clear()
        x.relu_()
        assert [args[0] for _, _, args in gpu.log][-1] == x.data_ptr()
    assert gpu.planned[-2:] == [True, True]


def test_ternary_ops_in_place_write_self_through_a_plan(gpu):
    # clamp_, lerp_, addcmul_ and out=: one launch into the tensor, planned per operands, scalars and
    # parameters (by value)
    x, y, z = _t(3, 5), _t(3, 5), _t(3, 5)
    _into(gpu, lambda: x.clamp_(0.0, 1.0), x)
    _into(gpu, lambda: x.lerp_(y, 0.25), x)
    _into(gpu, lambda: x.addcmul_(y, z, value=0.5), x)
    _into(gpu, lambda: ttorch.clamp(y, -1.0, 1.0, out=z), z)
    assert gpu.planned == [True] * 8
    gpu.log.clear()
    x.lerp_(y, 0.5)                                     # another weight: another key, launched as usual
    assert gpu.planned == [True] * 8 and gpu.log[0][2][0] == x.data_ptr()


def test_fills_in_place_share_the_fills_plans(gpu):
    # zero_() and fill_() (gradients zeroed in place) run the plan of zeros/full of that shape, value
    # and dtype into the tensor; a plan recorded in place serves new tensors too
    g, m = _t(3, 5), _t(7, dtype=ttorch.bool)
    _into(gpu, lambda: g.zero_(), g)
    _into(gpu, lambda: g.fill_(2.5), g)
    _into(gpu, lambda: m.fill_(2), m)                   # a bool: True, stored as 1
    assert gpu.log[0][2][1] == 1
    assert gpu.planned == [True] * 6
    gpu.log.clear()
    g.zero_()
    zero_launch = gpu.log[0]
    gpu.log.clear()
    z = ttorch.zeros(3, 5, device="cuda")               # the plan g.zero_() recorded
    assert gpu.planned[-1] is True and gpu.log[0][:2] == zero_launch[:2] and gpu.log[0][2][0] == z.data_ptr()


def test_a_copy_plan_is_keyed_by_the_transposing_copy_thresholds(gpu, monkeypatch):
    # a transposing copy goes by tiles (no plan); with the tiles' threshold raised (gpu_quick's A/B) it
    # takes the elementwise kernel, planned; lowered again, it goes by tiles again, not by that plan
    dst, src = _t(32, 32), _t(32, 32).t()
    names = []
    for t_min in (E._T_MIN, 1 << 62, E._T_MIN):
        monkeypatch.setattr(E, "_T_MIN", t_min)
        for _ in range(3):
            gpu.log.clear()
            dst.copy_(src)
            names.append(gpu.log[-1][0][0].fn.__name__)
    assert names == ["_transpose_kernel"] * 3 + ["_ew_kernel"] * 3 + ["_transpose_kernel"] * 3
    assert gpu.planned == [True]


def _unlike_outputs_take_the_usual_path(gpu, write):
    """``write(dst, src)`` into a transposed view (strided) and into a view at an address not 16-byte
    aligned: a plan's kernel writes contiguous, aligned output, so these launch as usual, into dst."""
    gpu.planned.clear()
    buf = _t(17)
    for dst, src in ((_t(4, 4).t(), _t(4, 4).t()), (buf[1:], _t(16))):
        for _ in range(3):
            gpu.log.clear()
            write(dst, src)
            assert any(args[0] == dst.data_ptr() for _, _, args in gpu.log)
    assert True not in gpu.planned


def test_an_output_unlike_the_plans_takes_the_usual_path(gpu):
    for _ in range(3):
        _t(4, 4) + _t(4, 4)                             # (the out-of-place plan exists)
    _unlike_outputs_take_the_usual_path(gpu, lambda out, other: out.add_(other))


FILLS = {
    "zeros": lambda: ttorch.zeros(3, 5, device="cuda"),
    "ones int64": lambda: ttorch.ones(4, dtype=ttorch.int64, device="cuda"),
    "full": lambda: ttorch.full((2, 3), 2.5, device="cuda"),
    "zeros_like": lambda: ttorch.zeros_like(_t(3, 5, dtype=ttorch.float16)),
    "autograd's root gradient": lambda: ttorch.ones_like(_t()),
}


@pytest.mark.parametrize("case", list(FILLS))
def test_fills_are_planned(gpu, case):
    # zeros, ones and full on cuda: the fill's launch planned like a unary op's, its value baked in
    _same_launches(gpu, FILLS[case])
    assert gpu.planned == [True, True]


def test_a_fill_value_has_a_plan_of_its_own(gpu):
    launched = {}
    for v in (2.5, 3.5, 2.5, 3.5, 2.5, 3.5):
        gpu.log.clear()
        ttorch.full((4,), v, device="cuda")
        launched.setdefault(v, set()).add(gpu.log[0][2][1])
    assert launched == {2.5: {2.5}, 3.5: {3.5}} and gpu.planned == [True, True]
    signs = []
    for v in (0.0, -0.0) * 3:                          # equal, and hashed alike: the sign is in the key
        gpu.log.clear()
        ttorch.full((4,), v, device="cuda")
        signs.append(math.copysign(1.0, gpu.log[0][2][1]))
    assert signs == [1.0, -1.0] * 3
    # a float64 value that float32 can't hold travels as a 0-dim tensor: that fill is not planned
    assert gpu.planned == [True] * 4
    for _ in range(4):
        ttorch.full((4,), 1e300, dtype=ttorch.float64, device="cuda")
    assert gpu.planned == [True] * 4


def test_autograd_records_as_the_usual_path(gpu):
    x, y = _t(3, requires_grad=True), _t(3)
    outs = _same_launches(gpu, lambda: x * y)
    assert gpu.planned == [True, True]
    for r in outs:
        assert r.requires_grad and r.grad_fn.name() == "MulBackward0"
        assert [e[0] if e else None for e in r.grad_fn.next_functions] == [outs[0].grad_fn.next_functions[0][0],
                                                                           None]
        assert r.grad_fn._ctx.inputs[0] is x and r.grad_fn._ctx.inputs[1] is y
    with ttorch.no_grad():
        assert not (x * y).requires_grad


def test_autograd_records_a_replayed_ternary_op(gpu):
    c, x, y = _t(3, dtype=ttorch.bool), _t(3, requires_grad=True), _t(3)
    outs = _same_launches(gpu, lambda: ttorch.where(c, x, y))
    assert gpu.planned == [True, True]
    for r in outs:
        assert r.requires_grad and r.grad_fn.name() == "WhereBackward0" and r.grad_fn._ctx.inputs[0] is c
    with ttorch.no_grad():
        assert not ttorch.where(c, x, y).requires_grad


@pytest.mark.parametrize("why", ["unaligned view", "transposed", "broadcast", "tuned"])
def test_operands_unlike_the_plans_take_the_usual_path(gpu, monkeypatch, why):
    x, y = _t(8, 8), _t(8, 8)
    x + y
    x + y                                              # the plan of contiguous 8x8 floats
    a, b = x, y
    if why == "unaligned view":                        # 4 bytes in: the plan's kernel assumed 16-byte aligned
        a = _t(65)[1:].view(8, 8)
    elif why == "transposed":
        a = x.t()
    elif why == "broadcast":
        b = _t(8)
    elif why == "tuned":                               # a new elementwise winner: its block, not the plan's
        monkeypatch.setattr(tune, "_winners", {"elementwise": {E._ew_key(4, True, 64): tune.Config(
            {"BLOCK": 512}, num_warps=8)}})
    gpu.log.clear()
    gpu.planned.clear()
    r = a + b
    assert gpu.planned in ([], [False])
    ((key, grid, args),) = gpu.log
    assert args[0] == r.data_ptr() and args[1] == a.data_ptr()
    if why == "tuned":
        assert key[-1][-2:] == (512, 8)                # the launch's (block, warps)
    if why in ("transposed", "broadcast"):             # the same addresses, read by the strided kernel
        assert key[0] is E._ew_kernel


def test_a_strided_input_is_not_served_a_contiguous_plan(gpu):
    x = _t(8, 8)
    ttorch.relu(x)
    ttorch.relu(x)                                     # planned: contiguous 8x8
    for _ in range(3):                                 # x.t(): a key of its own, the strided kernel
        gpu.log.clear()
        r = ttorch.relu(x.t())
        ((key, grid, args),) = gpu.log
        assert key[0] is E._ew_kernel and args[0] == r.data_ptr() and args[1] == x.data_ptr()


@pytest.mark.parametrize("why", ["profiler", "spy", "fast path off", "launch hook", "autocast"])
def test_no_plan_runs_while(gpu, monkeypatch, why):
    assert E.plans_on()
    if why == "profiler":
        with ttorch.profiler.profile(activities=[ttorch.profiler.ProfilerActivity.CPU]):
            assert not E.plans_on()
        return
    if why == "spy":                                   # a test wrapping JITFunction.run sees every launch
        monkeypatch.setattr(L, "_JIT_RUN", [None])
    elif why == "fast path off":
        monkeypatch.setattr(L, "_FAST_ON", [False])
    elif why == "launch hook":
        monkeypatch.setattr(L, "_knobs", types.SimpleNamespace(launch_enter_hook=lambda md: None,
                                                               launch_exit_hook=None))
    elif why == "autocast":
        with ttorch.autocast("cuda"):
            assert not E.plans_on()
        return
    assert not E.plans_on()


# ---------------------------------------------------------------------------- recorded plans (_plan.py)
from ttorch.ops import gemm  # noqa: E402


@pytest.fixture
def replays(gpu, monkeypatch):
    """``gpu``, with a list that gets, per call through ``_plan._replay``, whether the plan ran."""
    out = []
    real = P._replay
    monkeypatch.setattr(P, "_replay", lambda *a: (lambda r: out.append(r is not None and r is not P._REALIAS)
                                                  or r)(real(*a)))
    return out


def _labels(log, inputs, out):
    """The launches in ``log`` with device addresses named: an input's or an output's (with the byte
    offset into it), others (intermediates) by order of appearance."""
    outs = list(out) if type(out) is tuple else [out]
    # (name, its address, its storage's extent): views of one storage name its addresses by the first
    tensors = [(f"in{j}", t) for j, t in enumerate(inputs)] + [(f"out{k}", o) for k, o in enumerate(outs)]
    extent = [(n, t.data_ptr(), t.untyped_storage().data_ptr(), t.untyped_storage().nbytes()) for n, t in tensors]
    others = {}

    def name(v):
        if type(v) is not int or v < 1 << 32:
            return v
        for n, p, lo, size in extent:
            if lo <= v < lo + max(size, 1):
                return f"{n}+{v - p}"
        return others.setdefault(v, f"tmp{len(others)}")
    return [(key, grid, tuple(name(v) for v in args)) for key, grid, args in log]


def _same_plan_launches(gpu, replays, f, inputs, calls=4, since=0):
    """Run ``f`` ``calls`` times: the first two take the usual path (the second records), the rest
    replay; every call from ``since`` on must launch the same kernels with the same arguments,
    addresses by role (a replay allocates each intermediate anew, where the usual path's allocator
    may hand a later one an earlier one's freed block: ``since=1`` compares with the recorded call)."""
    first = None
    for i in range(calls):
        gpu.log.clear()
        r = f()
        got = _labels(gpu.log, inputs, r)
        assert got, "no launch"
        if i == since:
            first = got
        assert first is None or got == first, i
    assert replays == [True] * (calls - 2)
    return r


PRODUCTS = {
    "linear": lambda x, w, b: ttorch.nn.functional.linear(x, w, b),
    "linear, no bias": lambda x, w, b: ttorch.nn.functional.linear(x, w),
    "linear + relu": lambda x, w, b: ttorch.ops.linear.linear_act(x, w, b, "relu"),
    "mm": lambda x, w, b: x @ w.t(),
    "batched matmul": lambda x, w, b: x.view(1, 6, 5) @ w.t(),
}


@pytest.mark.parametrize("case", list(PRODUCTS))
def test_a_replayed_product_launches_what_the_usual_path_does(replays, gpu, case):
    x, w, b = _t(6, 5), _t(7, 5), _t(7)
    _same_plan_launches(gpu, replays, lambda: PRODUCTS[case](x, w, b), (x, w, b))


def test_split_k_and_its_workspace(replays, gpu):
    # a few output tiles over a long K: parts into a workspace, then their sum (an intermediate per call);
    # the ragged last part reads the operands and writes the workspace at offsets into them
    x, w = _t(8, 4160), _t(8, 4160)
    _same_plan_launches(gpu, replays, lambda: x @ w.t(), (x, w))
    assert [k[0] for k, _, _ in gpu.log] == [gemm._gemm_kernel, gemm._gemm_kernel, gemm._split_k_sum_kernel]
    assert x.data_ptr() + 4096 * 4 in gpu.log[1][2]    # the last part's A: 4096 columns in


def test_operand_copies_before_the_product(replays, gpu):
    # float32 x @ W^T from 1024 rows on: W copied row-major first (a transposing copy into an intermediate)
    x, w = _t(1024, 16), _t(8, 16)
    _same_plan_launches(gpu, replays, lambda: x @ w.t(), (x, w))
    assert len(gpu.log) == 2 and gpu.log[-1][0][0] is gemm._gemm_kernel


def test_autograd_through_a_replayed_product(replays, gpu):
    x, w, b = _t(6, 5), _t(7, 5, requires_grad=True), _t(7, requires_grad=True)
    outs = [ttorch.nn.functional.linear(x, w, b) for _ in range(4)]
    assert replays == [True, True]
    assert all(o.grad_fn.name() == "LinearBackward0" and o.grad_fn._ctx.inputs[1] is w for o in outs)


def test_a_new_winner_or_threshold_is_not_replayed_past(replays, gpu, monkeypatch):
    x, w = _t(40, 20), _t(24, 20)
    for _ in range(3):
        x @ w.t()
    assert replays == [True]
    won = tune.Config({"BLOCK_M": 32, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2}, num_warps=2, num_stages=2)
    monkeypatch.setattr(tune, "_winners", {"gemm": {gemm._tune_key(ttorch.float32, "ieee", 40, 24, 20, "nt"): won}})
    gpu.log.clear()
    x @ w.t()
    assert replays == [True, False] and gpu.log[0][0][-1][-2:] != () and (32, 16, 16) == tuple(
        dict(gpu.log[0][0][-1])[k] for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K"))
    monkeypatch.setattr(gemm, "_SPLIT_FILL", 7)          # another key: seen once, not replayed
    x @ w.t()
    assert replays == [True, False]


def test_a_winner_tuned_in_place_is_not_replayed_past(replays, gpu, monkeypatch):
    # a replay skips its lookups while the winners are the ones it was recorded with (tune.GENERATION,
    # bumped by tune, load and clear); a tuning run that adds a winner to the same dict bumps it
    x, w = _t(40, 20), _t(24, 20)
    monkeypatch.setattr(tune, "_winners", {})
    for _ in range(4):
        x @ w.t()
    assert replays == [True, True]
    won = tune.Config({"BLOCK_M": 32, "BLOCK_N": 16, "BLOCK_K": 16, "GROUP_M": 2}, num_warps=2, num_stages=2)
    key = gemm._tune_key(ttorch.float32, "ieee", 40, 24, 20, "nt")
    monkeypatch.setattr(tune.registered()["gemm"], "configs", lambda b: [won])
    monkeypatch.setattr(tune.registered()["gemm"], "bench", lambda cfg, *p: (lambda: None))
    tune.tune("gemm", problems=[("float32", "ieee", 40, 24, 20, "nt")], timer=lambda fn: 1.0, save=False)
    assert tune._winners["gemm"][key] is won
    gpu.log.clear()
    x @ w.t()
    assert replays == [True, True, False] and (32, 16, 16) == tuple(
        dict(gpu.log[0][0][-1])[k] for k in ("BLOCK_M", "BLOCK_N", "BLOCK_K"))


def test_inputs_sharing_memory(replays, gpu):
    # x @ x: the kernel's views are taken from the first input sharing the memory, and a replay needs the
    # inputs to share it the same way; distinct inputs of the same key record their own plan, which serves
    # any pattern (each input's address in its place)
    x, y = _t(8, 8), _t(8, 8)
    for _ in range(3):
        gpu.log.clear()
        r = x @ x
        assert gpu.log[0][2][:4] == (x.data_ptr(), x.data_ptr(), None, r.data_ptr())
    assert replays == [True]
    gpu.log.clear()
    r = x @ y                                          # not x's pattern: the usual path, recorded
    assert replays == [True, False] and gpu.log[0][2][:4] == (x.data_ptr(), y.data_ptr(), None, r.data_ptr())
    for _ in range(2):
        x @ y
        x @ x
    assert replays == [True, False, True, True, True, True]
    big = _t(2, 8, 8)                                  # two views of one buffer, 256 bytes apart: one pattern
    a, b, c = big[0], big[1], _t(72)[8:].view(8, 8)
    for _ in range(3):
        a @ b
    gpu.log.clear()
    r = a @ c                                          # c is not a's memory: recorded anew, as launched
    assert gpu.log[0][2][:4] == (a.data_ptr(), c.data_ptr(), None, r.data_ptr())


def test_outputs_that_are_views_of_one_buffer(replays, gpu):
    # an op may return pieces of one fresh buffer (attention's gradients of q, k, v split from one
    # projection): a replay allocates the buffer once and returns the same views of it
    from ttorch.ops.elementwise import copy_into
    from ttorch._tensor import Tensor

    def cuda(x):
        buf = Tensor._empty((2,) + x._shape, x.dtype, x.device)
        halves = tuple(buf._view(x._shape, x.stride(), i * x.numel()) for i in (0, 1))
        for h in halves:
            copy_into(h, x)
        return halves
    with _op("_plan_test_views", cuda) as op:
        x = _t(4, 4)
        for i in range(4):
            gpu.log.clear()
            lo, hi = op(x)
            assert lo._base is hi._base and lo._base._shape == (2, 4, 4) and hi._offset == 16
            assert lo.untyped_storage() is hi.untyped_storage() and hi.data_ptr() - lo.data_ptr() == 64
            assert [a[:2] for _, _, a in gpu.log] == [(lo.data_ptr(), x.data_ptr()), (hi.data_ptr(), x.data_ptr())]
        assert replays == [True, True]


def test_an_op_that_copies_memory_outside_a_kernel_is_not_planned(replays, gpu, monkeypatch):
    with _op("_plan_test_upload", lambda x: x + ttorch.tensor([1.0, 2.0], device="cuda")) as op:    # an upload
        x = _t(2)
        for _ in range(4):
            op(x)
        assert replays == [] and P.NO_PLAN in op._plans.values()


def _relu_grad(g, h):
    from ttorch.ops.act_backward import act_backward
    return act_backward(g, h, "relu")


OTHERS = {   # other ops that opt in: inputs, then the call
    "sum": (lambda: (_t(6, 5),), lambda x: x.sum()),
    "sum over dim 0": (lambda: (_t(6, 5),), lambda x: x.sum(0)),
    "mean over dims 0, 2": (lambda: (_t(3, 4, 5),), lambda x: x.mean((0, 2))),
    "sum of a long row (split)": (lambda: (_t(1 << 16),), lambda x: x.sum()),
    "relu's backward": (lambda: (_t(6, 5), _t(6, 5)), _relu_grad),
    "masked_fill (an attention mask's -inf)": (lambda: (_t(6, 5), _t(5, dtype=ttorch.bool)),
                                               lambda x, m: x.masked_fill(m, float("-inf"))),
    "cat along dim 1 (strided copies)": (lambda: (_t(6, 5), _t(6, 3)), lambda a, b: ttorch.cat([a, b], 1)),
    "cat with a cast": (lambda: (_t(2, 5), _t(3, 5, dtype=ttorch.float16)), lambda a, b: ttorch.cat([a, b])),
    "stack": (lambda: (_t(4, 5), _t(4, 5)), lambda a, b: ttorch.stack([a, b], 1)),
    "flip": (lambda: (_t(6, 5),), lambda x: x.flip(1)),
    "roll": (lambda: (_t(6, 5),), lambda x: x.roll(2, 0)),
    "repeat": (lambda: (_t(3, 5),), lambda x: x.repeat(2, 3)),
    "cross-entropy mean": (lambda: (_t(2, 8), _t(8, dtype=ttorch.int64)),
                           lambda rows, t: ttorch.ops.cross_entropy._ce_mean_op(rows, t, ignore_index=-100, mean=True)),
    "cross-entropy backward": (lambda: (_t(2, 8), _t(8, 5), _t(2, 8), _t(8, dtype=ttorch.int64)),
                               lambda g, x, o, t: ttorch.ops.cross_entropy._ce_bw_op(g, x, o, t, ignore_index=-100)),
    "softmax": (lambda: (_t(6, 5),), lambda x: x.softmax(-1)),
    "log_softmax over dim 0 (strided rows)": (lambda: (_t(6, 5),), lambda x: x.log_softmax(0)),
    "softmax of a transposed view (a copy first)": (lambda: (_t(32, 16),), lambda x: x.t().softmax(-1)),
    "softmax's backward": (lambda: (_t(6, 5), _t(6, 5)),
                           lambda g, y: ttorch.ops.softmax._softmax_backward_data(g, y, -1)),
    "layer_norm": (lambda: (_t(4, 8), _t(8), _t(8)),
                   lambda x, w, b: ttorch.nn.functional.layer_norm(x, (8,), w, b)),
    "rms_norm": (lambda: (_t(4, 8), _t(8)), lambda x, w: ttorch.nn.functional.rms_norm(x, (8,), w)),
    "layer_norm's backward": (lambda: (_t(4, 2, 8), _t(4, 2, 8), _t(2, 8)),
                              lambda g, x, w: ttorch.ops.layer_norm._norm_bw_op(g, x, w, k=2, eps=1e-5, rms=False)),
    "batch_norm's backward": (lambda: (_t(4, 3, 5, 5), _t(4, 3, 5, 5), _t(3), _t(3), _t(3)),
                              lambda g, x, w, m, v: ttorch.ops.batch_norm._bn_bw_op(g, x, w, m, v, training=True,
                                                                                   eps=1e-5, reduce=True)),
    "flash attention": (lambda: (_t(1, 2, 16, 8), _t(1, 2, 16, 8), _t(1, 2, 16, 8)),
                        lambda q, k, v: ttorch.ops.attention._attn_op(q, k, v, None, scale=0.35, causal=True)),
    "flash attention's backward": (lambda: (_t(1, 2, 16, 8),) * 4 + (_t(1, 2, 16, dtype=ttorch.float32),),
                                   lambda g, q, k, v, lse: ttorch.ops.attention._attn_bw_op(
                                       g, None, q, k, v, g, lse, None, scale=0.35, causal=False)),
    "attention's backward, q, k, v pieces of one projection (gradients: views of one buffer)": (
        lambda: (_t(1, 16, 2, 8), _t(2, 16, 48), _t(1, 2, 16, dtype=ttorch.float32)),
        lambda g, qkv, lse: ttorch.ops.attention._attn_bw_op(
            g.transpose(1, 2), None, *(t.view(2, 16, 2, 8).transpose(1, 2) for t in qkv.split(16, dim=2)),
            g.transpose(1, 2), lse.expand(2, 2, 16), None, scale=0.35, causal=True)),
    "an embedding's rows (index_select)": (lambda: (_t(10, 8), _t(2, 6, dtype=ttorch.int64)),
                                           lambda w, i: ttorch.nn.functional.embedding(i, w)),
    "an embedding's backward (rows_add)": (lambda: (_t(12, dtype=ttorch.int64), _t(12, 8)),
                                           lambda i, g: ttorch.ops.gather.rows_add(i, g, 10)),
    "x[idx] (a gather by the index kernel, its sizes a kept constant)": (
        lambda: (_t(10, 8), _t(6, dtype=ttorch.int64)), lambda x, i: x[i]),
    "x[i, :, j] (two index tensors: their rows copied together first)": (
        lambda: (_t(5, 3, 4), _t(2, 3, dtype=ttorch.int64), _t(3, dtype=ttorch.int32)), lambda x, i, j: x[i, :, j]),
    "var_mean": (lambda: (_t(6, 5),), lambda x: ttorch.var_mean(x, -1)),
    "std over dim 0": (lambda: (_t(6, 5),), lambda x: x.std(0)),
    "logsumexp": (lambda: (_t(6, 5),), lambda x: x.logsumexp(-1)),
    "norm": (lambda: (_t(6, 5),), lambda x: x.norm(dim=1)),
    "max over a dim (values and indices)": (lambda: (_t(6, 5),), lambda x: tuple(x.max(1))),
    "argmax": (lambda: (_t(6, 5),), lambda x: x.argmax(-1)),
    "gather": (lambda: (_t(6, 5), _t(6, 3, dtype=ttorch.int64)), lambda x, i: x.gather(1, i)),
    "scatter_add (a copy, then atomics into it)": (lambda: (_t(6, 5), _t(6, 3, dtype=ttorch.int64), _t(6, 3)),
                                                    lambda x, i, s: x.scatter_add(1, i, s)),
    "one_hot (a zero fill, then a scatter)": (lambda: (_t(7, dtype=ttorch.int64),),
                                              lambda i: ttorch.nn.functional.one_hot(i, 5)),
    "cumsum": (lambda: (_t(6, 5),), lambda x: x.cumsum(1)),
    "a transposing copy (tiles)": (lambda: (_t(32, 16),), lambda x: x.t().contiguous()),
    "a strided copy": (lambda: (_t(6, 8),), lambda x: x[:, :4].contiguous()),
}


@pytest.mark.parametrize("case", list(OTHERS))
def test_other_ops_replay_what_the_usual_path_launches(replays, gpu, monkeypatch, case):
    make, f = OTHERS[case]
    if "split" in case:                                # a real GPU's chunk: partials, then their sum
        monkeypatch.setattr(ttorch.ops.reduction, "SPLIT_CHUNK", 8192)
    inputs = make()
    from ttorch.cuda import _checks                    # the device-check buffer, made (and zero-filled) now:
    _checks.slot(inputs[0].device, 0)                  # the gather and scatter kernels write it
    _same_plan_launches(gpu, replays, lambda: f(*inputs), inputs)
    if "split" in case:
        assert len(gpu.log) == 2


def test_a_call_that_draws_random_numbers_is_not_planned(replays, gpu):
    # attention with dropout: each call's Philox pair is new, which a replay would repeat
    q = _t(1, 2, 16, 8)
    logs = []
    for _ in range(4):
        gpu.log.clear()
        ttorch.ops.attention.flash_attention(q, q, q, dropout_p=0.1)
        logs.append(list(gpu.log))
    assert replays == [] and not ttorch.ops.attention._attn_op._plans
    assert all(len(log) == 1 for log in logs) and len({str(log) for log in logs}) == 4


def test_a_constant_buffer_is_passed_by_its_address_and_kept(replays, gpu):
    # the index kernel reads its sizes and strides from a buffer cached per shape (indexing._constants,
    # marked _plan.constant): a plan passes its recorded address and holds it, so a cache that drops the
    # buffer frees nothing a replay still reads
    import gc
    from ttorch.ops import indexing
    x, i = _t(10, 8), _t(6, dtype=ttorch.int64)
    x[i]
    x[i]                                               # seen, recorded
    (plan,) = [p for p in indexing._index._plans.values() if type(p) is P.Plan]
    (kept,) = plan.kept
    indexing._CONSTANTS.clear()
    gc.collect()
    other = _t(kept.nbytes_ // 8, dtype=ttorch.int64)  # the size class of the dropped buffer: not its block
    assert other.data_ptr() != kept._p
    gpu.log.clear()
    x[i]
    assert replays == [True] and gpu.log[0][2][3] == kept._p


def test_a_kernel_handed_memory_from_outside_the_call_is_not_planned(replays, gpu):
    # memory that outlives the call (a cache, a buffer of flags) is no input, output or intermediate
    buf = _t(4)
    with _op("_plan_test_buffer", lambda x: x + buf) as op:
        x = _t(4)
        for _ in range(4):
            op(x)
        assert replays == [] and P.NO_PLAN in op._plans.values()


def test_a_device_check_slot_is_replayed_armed(replays, gpu):
    # the cross-entropy forward counts bad targets in a device-check slot (cuda/_checks.py), a buffer
    # that lives as long as the process: a replay passes its address and arms the check, as the call does
    from ttorch.cuda import _checks
    x, t = _t(8, 5), _t(8, dtype=ttorch.int64)
    ce = ttorch.ops.cross_entropy._ce_op
    slot = _checks.slot(x.device, ttorch.ops.cross_entropy._TARGET_CHECK).data_ptr()     # the buffer made
    for i in range(4):
        _checks._armed[0] = False
        gpu.log.clear()
        ce(x, t, ignore_index=-100)
        assert _checks._armed[0]
        ((_, _, args),) = gpu.log
        assert args[3] == slot
    assert replays == [True, True]


def test_a_device_check_slot_made_inside_the_recorded_call_is_not_planned(replays, gpu):
    from ttorch.cuda import _checks
    x, t = _t(8, 5), _t(8, dtype=ttorch.int64)
    ce = ttorch.ops.cross_entropy._ce_op
    ce(x, t, ignore_index=-100)                        # seen
    _checks._buffers.clear()                           # the recorded call makes (and zero-fills) the buffer
    _checks._views.clear()
    for _ in range(3):
        ce(x, t, ignore_index=-100)
    assert replays == [] and P.NO_PLAN in ce._plans.values()


def test_ops_called_inside_a_recorded_call_are_recorded_with_it(replays, gpu):
    # a planned op whose cuda code calls planned ops (as the conv weight gradient sums its split parts):
    # while it is recorded they take the usual path, so the replay launches them too
    with _op("_plan_test_nested", lambda x: (x * 2.0).sum(0) + 1.0) as op:
        x = _t(6, 5)
        for _ in range(3):                             # the inner ops' own plans exist before the recording
            (x * 2.0).sum(0) + 1.0
        op(x)
        replays.clear()
        logs = []
        for _ in range(3):                             # recorded, then replayed twice
            gpu.log.clear()
            r = op(x)
            logs.append(_labels(gpu.log, (x,), r))
        assert replays == [True, True] and len(logs[0]) == 3 and logs[0] == logs[1] == logs[2]


CONVS = {   # the convolution's three kernels; the weight gradient sums its split parts (nested ops)
    "forward": (lambda: (_t(2, 3, 6, 5), _t(4, 3, 3, 3), _t(4)), lambda x, w, b: ttorch.nn.functional.conv2d(
        x, w, b, padding=1)),
    "input gradient": (lambda: (_t(2, 4, 6, 5), _t(4, 3, 3, 3)), lambda dy, w: ttorch.ops.conv._conv_input(
        dy, w, None, stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, size=(6, 5))),
    "weight gradient": (lambda: (_t(2, 3, 6, 5), _t(2, 4, 6, 5)), lambda x, dy: ttorch.ops.conv._conv_weight(
        x, dy, stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, kernel=(3, 3))),
}


@pytest.mark.parametrize("case", list(CONVS))
def test_convolutions_replay_what_the_usual_path_launches(replays, gpu, case):
    make, f = CONVS[case]
    inputs = make()
    _same_plan_launches(gpu, replays, lambda: f(*inputs), inputs, since=1)


def test_another_threads_launches_are_not_recorded(replays, gpu):
    # a data-loading thread launching while a call is recorded: its kernels are not the call's
    def cuda(x):
        t = threading.Thread(target=lambda: x * 3.0)
        t.start()
        t.join()
        return x * 2.0
    with _op("_plan_test_thread", cuda) as op:
        x = _t(4)
        for _ in range(2):
            gpu.log.clear()
            op(x)
            assert len(gpu.log) == 2                   # the thread's launch, then the call's
        gpu.log.clear()
        op(x)
        assert replays == [True] and len(gpu.log) == 1 and gpu.log[0][2][2] == 2.0


@pytest.mark.skipif(_driver.SIMULATED or not ttorch.cuda.is_available(), reason="needs a real GPU")
def test_on_a_gpu_replayed_calls_compute_what_the_usual_path_computes():
    import numpy as np
    F, A = ttorch.nn.functional, ttorch.ops.attention
    ttorch.manual_seed(0)
    x, w, b = (ttorch.randn(*s, device="cuda") for s in ((64, 48), (40, 48), (40,)))
    img, k = ttorch.randn(2, 3, 9, 7, device="cuda"), ttorch.randn(5, 3, 3, 3, device="cuda")
    t = ttorch.randint(0, 40, (64,), device="cuda")
    a, c = ttorch.randn(8, 8192, device="cuda"), ttorch.randn(16, 8192, device="cuda")     # split K
    # q, k, v: pieces of one projection's output, viewed per head (their gradients: pieces of one buffer)
    q, kk, v = (u.view(2, 16, 2, 16).transpose(1, 2) for u in ttorch.randn(2, 16, 96, device="cuda").split(32, 2))
    P.ENABLED[0] = False
    g, (o, lse) = ttorch.randn(2, 2, 16, 16, device="cuda"), A._attn_op(q, kk, v, None, scale=0.25, causal=True)
    flat = lambda rs: ttorch.cat([r.reshape(-1) for r in rs])      # noqa: E731
    cases = {
        "add": lambda: x + x * 0.5,
        "relu": lambda: ttorch.relu(x),
        "broadcast": lambda: x * w[0],
        "transposed": lambda: x.t() - w[0].expand(64, 48).t(),
        "softmax": lambda: x.softmax(-1),
        "log_softmax": lambda: x.log_softmax(0),
        "layer_norm": lambda: F.layer_norm(x, (48,), w[0], w[1]),
        "transposing copy": lambda: x.t().contiguous(),
        "layer_norm's backward": lambda: flat(ttorch.ops.layer_norm._norm_bw_op(x, x * 2, w[0], k=1, eps=1e-5,
                                                                                 rms=False)),
        "batch_norm's backward": lambda: flat(ttorch.ops.batch_norm._bn_bw_op(
            img, img * 0.5, k[:3, 0, 0, 0], b[:3], b[3:6].abs() + 0.1, training=True, eps=1e-5, reduce=True)),
        "attention": lambda: A._attn_op(q, kk, v, None, scale=0.25, causal=True)[0],
        "attention's backward": lambda: flat(A._attn_bw_op(g, None, q, kk, v, o, lse, None, scale=0.25,
                                                           causal=True)),
        "embedding": lambda: F.embedding(t.view(8, 8), w),
        "an embedding's backward": lambda: ttorch.ops.gather.rows_add(t, x, 40),
        "linear": lambda: F.linear(x, w, b),
        "mm split K": lambda: a @ c.t(),
        "sum": lambda: x.sum(0),
        "long sum": lambda: ttorch.ones(1 << 20, device="cuda").sum(),
        "conv": lambda: F.conv2d(img, k, padding=1),
        "cross_entropy": lambda: F.cross_entropy(F.linear(x, w, b), t),
        "fills": lambda: flat((ttorch.zeros(5, 3, device="cuda"), ttorch.full((7,), -2.5, device="cuda"),
                               ttorch.ones(3, dtype=ttorch.int64, device="cuda").float())),
        "in place and out=": lambda: ttorch.mul(x.clone().mul_(0.5).add_(x), x, out=ttorch.empty_like(x)),
        "int scalars (baked)": lambda: flat((t.clone().add_(1), t * 3, t + 16)).float(),
        "ternary": lambda: flat((ttorch.where(x > 0, x, w[0]), x.clamp(-0.5, 0.5), x.lerp(x * 2, 0.25),
                                 x.addcmul(x, x, value=0.5), x.clone().clamp_(max=0.3))),
        "copies": lambda: flat((x.clone().copy_(x.t().t() * 2), x.clone().relu_(), ttorch.empty_like(x).copy_(w[0]),
                                ttorch.empty(64, 48, device="cuda", dtype=ttorch.float16).copy_(x).float())),
        "cat, stack, flip, roll, repeat": lambda: flat((ttorch.cat([x, w[:3]], 0), ttorch.cat([x, x[:, :5]], 1),
                                                       ttorch.stack([x, x * 2], 1), x.flip(0), x.roll(3, 1),
                                                       w.repeat(2, 1))),
        "masked_fill": lambda: flat((x.masked_fill(x > 0.5, float("-inf")).clamp(min=-9.0), x.masked_fill(x < 0, 2))),
        "index": lambda: flat((x[t[:9]], x[t[:6].view(2, 3), 5:9], img[t[:4] % 2, :, t[4:8] % 9])),
        "gather, scatter, one_hot, cumsum": lambda: flat((x.gather(1, t[:8].view(8, 1).expand(8, 3) % 48),
                                                          x.scatter(0, t[:6].view(1, 6) % 64, w[:1, :6]),
                                                          ttorch.nn.functional.one_hot(t[:5], 40).float(),
                                                          x.cumsum(0), x.cumprod(1))),
        "statistics": lambda: flat((*ttorch.var_mean(x, 1), x.std(0), x.logsumexp(-1), x.norm(dim=0), x.max(1)[0],
                                    x.argmax(0).float(), x.min(0)[1].float())),
        "ternary in place": lambda: flat((x.clone().clamp_(-0.5, 0.5), x.clone().lerp_(x * 2, 0.25),
                                          x.clone().addcmul_(x, w[0], value=0.5), x.clone().addcdiv_(x, x.exp()))),
        "fills in place": lambda: flat((x.clone().zero_(), x.clone().fill_(-1.25),
                                        ttorch.empty(7, dtype=ttorch.bool, device="cuda").fill_(2).float(),
                                        ttorch.empty(5, dtype=ttorch.int64, device="cuda").fill_(3.7).float())),
    }
    for name, f in cases.items():
        P.ENABLED[0] = False
        want = f().cpu().numpy()
        P.ENABLED[0] = True
        for _ in range(4):                             # seen, recorded, replayed twice
            np.testing.assert_allclose(f().cpu().numpy(), want, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.skipif(_driver.SIMULATED or not ttorch.cuda.is_available(), reason="needs a real GPU")
def test_on_a_gpu_a_replayed_cross_entropy_still_reports_a_bad_target():
    x = ttorch.randn(8, 5, device="cuda")
    good, bad = ttorch.zeros(8, dtype=ttorch.int64, device="cuda"), ttorch.full((8,), 7, device="cuda")
    for _ in range(4):                                 # seen, recorded, replayed
        ttorch.nn.functional.cross_entropy(x, good)
    ttorch.cuda.synchronize()
    ttorch.nn.functional.cross_entropy(x, bad)         # the same key: replayed
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        ttorch.cuda.synchronize()


def test_an_op_with_two_outputs(replays, gpu):
    # max pooling returns its values and their indices: both fresh outputs, both allocated per replay
    x = _t(2, 3, 8, 6)
    pool = ttorch.ops.pool._max_pool2d
    kw = dict(kernel=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), out=(4, 3), in_shape=(2, 3, 8, 6))
    for i in range(4):
        gpu.log.clear()
        vals, idx = pool(x, **kw)
        assert idx.dtype is ttorch.int64 and vals.shape == idx.shape == (2, 3, 4, 3)
        ((_, _, args),) = gpu.log
        assert args[:3] == (x.data_ptr(), vals.data_ptr(), idx.data_ptr())
    assert replays == [True, True]
    assert vals.grad_fn is None                        # x needs no grad
    xg = _t(2, 3, 8, 6, requires_grad=True)
    for _ in range(3):
        vals, idx = pool(xg, **kw)
    assert vals.requires_grad and not idx.requires_grad and vals.grad_fn._ctx.outputs[1]._storage is idx._storage


def test_batch_norm_updates_its_running_statistics_in_a_replay(replays, gpu):
    # training mode: the kernels write the running statistics (inputs) in place; a replay hands them over
    x, w, b, rm, rv = _t(4, 3, 5, 5), _t(3), _t(3), _t(3), _t(3)
    bn = ttorch.ops.batch_norm._batch_norm
    kw = dict(training=True, momentum=0.1, eps=1e-5)
    r = _same_plan_launches(gpu, replays, lambda: bn(x, w, b, rm, rv, **kw)[0], (x, w, b, rm, rv))
    assert any("in3+0" in args for _, _, args in _labels(gpu.log, (x, w, b, rm, rv), r))


def test_a_host_write_into_an_input_is_not_planned(replays, gpu):
    # a version counter bumped during the call is a host-side effect a replay would skip
    with _op("_plan_test_version", lambda x: x._bump_version() or x * 2.0) as op:
        x = _t(4)
        for _ in range(4):
            op(x)
        assert replays == [] and x._version == 4


def _no_sync(monkeypatch):
    """Make any device-to-host copy or synchronisation on the stand-in an error that names it."""
    from ttorch.cuda import _driver as drv

    def fail(what):
        def f(*a, **k):
            raise AssertionError(f"{what} on the hot path")
        return f
    monkeypatch.setattr(drv._backend, "dtoh", fail("a device-to-host copy"))
    monkeypatch.setattr(drv._backend, "synchronize", fail("a synchronisation"))


def test_training_steps_make_no_host_sync(gpu, monkeypatch):
    """The GPU's host path for whole training steps (the harness's MLP, CNN and GPT-2-like steps, a
    Transformer layer with dropout, weighted cross entropy, AdamW, gradient clipping) copies nothing
    back to the host and never synchronises: the device checks report at the next sync the caller
    makes, not inside the ops."""
    from benchmarks import models as M
    F = ttorch.nn.functional
    layer = ttorch.nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, batch_first=True).to("cuda")
    head = ttorch.nn.Linear(32, 7).to("cuda")
    params = list(layer.parameters()) + list(head.parameters())
    opt = ttorch.optim.AdamW(params, lr=1e-3)
    x, y = ttorch.randn(4, 16, 32, device="cuda"), ttorch.randint(0, 7, (4, 16), device="cuda")
    w = ttorch.rand(7, device="cuda")

    def transformer():
        opt.zero_grad()
        F.cross_entropy(head(layer(x)).transpose(1, 2), y, weight=w).backward()
        ttorch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
    steps = [M._mlp(ttorch, "cuda", 8, 32), M._cnn(ttorch, "cuda", 2),
             M._gpt(ttorch, "cuda", batch=2, block=16, layers=1, dim=32, heads=4, vocab=64), transformer]
    _no_sync(monkeypatch)
    for step in steps:
        for _ in range(3):      # the second and third calls run plans
            step()
    with pytest.raises(AssertionError, match="device-to-host"):
        x.sum().item()          # (the check itself works)
