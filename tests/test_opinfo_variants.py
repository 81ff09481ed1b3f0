"""Differences from PyTorch found by replaying its OpInfo samples through the method, in-place and
``out=`` variants, other layouts and dtypes, and the simulated cuda device; each expected value and
message here was checked against PyTorch 2.13 by hand."""
import numpy as np
import pytest

import ttorch

from _helpers import to_np


def _t(a, dtype=ttorch.float32, device="cpu"):
    return ttorch.tensor(a, dtype=dtype, device=device)


# ----------------------------------------------------------------------------- factories with out=
@pytest.mark.parametrize("make, want", [
    (lambda o: ttorch.arange(5, out=o), [0, 1, 2, 3, 4]),
    (lambda o: ttorch.full((2,), 1.5, out=o), [1, 1]),
    (lambda o: ttorch.zeros(3, out=o), [0, 0, 0]),
    (lambda o: ttorch.ones(2, out=o), [1, 1]),
    (lambda o: ttorch.linspace(0, 3, 4, out=o), [0, 1, 2, 3]),
])
def test_factory_out_takes_out_dtype(make, want):
    o = ttorch.empty(0, dtype=ttorch.int64)
    r = make(o)
    assert r is o and o.dtype is ttorch.int64
    assert to_np(o).tolist() == want


def test_factory_out_resizes_and_keeps_float():
    o = ttorch.empty(0)
    assert ttorch.eye(2, out=o) is o and to_np(o).tolist() == [[1, 0], [0, 1]]
    o = ttorch.empty(0)
    assert ttorch.arange(3, out=o) is o and o.dtype is ttorch.float32 and to_np(o).tolist() == [0, 1, 2]
    o = ttorch.empty(0)
    assert ttorch.empty(2, 3, out=o) is o and o.shape == (2, 3)
    assert ttorch.ones(3, requires_grad=True, out=ttorch.empty(0)).requires_grad


@pytest.mark.parametrize("make", [lambda o: ttorch.zeros(3, dtype=ttorch.float32, out=o),
                                  lambda o: ttorch.arange(3, dtype=ttorch.float32, out=o),
                                  lambda o: ttorch.full((2,), 1.5, dtype=ttorch.float32, out=o)])
def test_factory_out_dtype_mismatch(make):
    with pytest.raises(RuntimeError, match=r"dtype Float does not match dtype of out parameter \(Long\)"):
        make(ttorch.empty(0, dtype=ttorch.int64))


# ----------------------------------------------------------------------------- out= added to functions
def test_out_added():
    x = _t([[1., 5., 2.], [7., 0., 3.]])
    o = ttorch.empty(0, dtype=ttorch.int64)
    assert ttorch.argmax(x, 1, out=o) is o and to_np(o).tolist() == [1, 0]
    mn, mx = ttorch.empty(0), ttorch.empty(0)
    r = ttorch.aminmax(x, dim=0, out=(mn, mx))
    assert r.min is mn and to_np(mn).tolist() == [1, 0, 2] and to_np(mx).tolist() == [7, 5, 3]
    assert to_np(ttorch.diff(x, dim=1, out=ttorch.empty(0))).tolist() == [[4, -3], [-7, 3]]
    ob = ttorch.empty(0, dtype=ttorch.bool)
    assert ttorch.isin(_t([1, 2, 3], ttorch.int64), _t([2, 5], ttorch.int64), out=ob) is ob
    assert to_np(ob).tolist() == [False, True, False]
    assert to_np(ttorch.take(x, _t([0, 4], ttorch.int64), out=ttorch.empty(0))).tolist() == [1, 0]
    assert to_np(ttorch.masked_select(x, x > 2, out=ttorch.empty(0))).tolist() == [5, 7, 3]
    cs = ttorch.column_stack([_t([1., 2.]), _t([3., 4.])], out=ttorch.empty(0))
    assert to_np(cs).tolist() == [[1, 3], [2, 4]]
    np.testing.assert_allclose(to_np(ttorch.softmax(_t([0., 1.]), 0, out=ttorch.empty(0))), [0.268941, 0.731059],
                               rtol=1e-5)
    np.testing.assert_allclose(to_np(ttorch.log_softmax(_t([0., 1.]), 0, out=ttorch.empty(0))),
                               [-1.313262, -0.313262], rtol=1e-5)
    np.testing.assert_allclose(to_np(ttorch.special.ndtr(_t([0., 1.]), out=ttorch.empty(0))), [0.5, 0.841345],
                               rtol=1e-5)
    np.testing.assert_allclose(to_np(ttorch.special.ndtri(_t([0.5, 0.9]), out=ttorch.empty(0))), [0, 1.281552],
                               rtol=1e-5, atol=1e-6)
    a = _t([[1., 1.], [0., 1.]])
    assert to_np(ttorch.linalg.matrix_power(a, 3, out=ttorch.empty(0))).tolist() == [[1, 3], [0, 1]]
    assert ttorch.linalg.matrix_power(a, 1) is not a        # (a new tensor, as PyTorch's)


def test_out_copy_ops_and_decompositions():
    x = _t([[0., 1., 2.], [3., 4., 5.]])
    o = ttorch.empty(0)
    assert ttorch.t_copy(x, out=o) is o and to_np(o).tolist() == [[0, 3], [1, 4], [2, 5]]
    outs = [ttorch.empty(0), ttorch.empty(0)]
    assert ttorch.unbind_copy(x, out=outs) is None      # (a list out=: PyTorch returns None)
    assert to_np(outs[1]).tolist() == [3, 4, 5]
    q, r = ttorch.empty(0), ttorch.empty(0)
    res = ttorch.qr(_t([[3., 0.], [4., 5.]]), out=(q, r))
    assert res.Q is q
    np.testing.assert_allclose(np.abs(to_np(q)), [[0.6, 0.8], [0.8, 0.6]], rtol=1e-6)
    np.testing.assert_allclose(np.abs(to_np(r)), [[5, 4], [0, 3]], rtol=1e-6, atol=1e-6)
    outs = (ttorch.empty(0), ttorch.empty(0), ttorch.empty(0, dtype=ttorch.int64), ttorch.empty(0))
    res = ttorch.linalg.lstsq(_t([[1., 0.], [0., 1.], [1., 1.]]), _t([[1.], [2.], [3.]]), out=outs)
    assert res.solution is outs[0] and res.rank is outs[2]
    np.testing.assert_allclose(to_np(outs[0]), [[1], [2]], rtol=1e-5)
    assert outs[2].item() == 2
    o = ttorch.empty(0, dtype=ttorch.uint64)
    assert ttorch.hash_tensor(_t([1., 2.]), out=o) is o
    assert int(o.view(ttorch.int64).item()) == 9218868437227405312


# ----------------------------------------------------------------------------- out= dtype rules
@pytest.mark.parametrize("call, msg", [
    (lambda: ttorch.argmax(_t([1, 2], ttorch.int64), out=ttorch.empty(0)),
     "Expected out tensor to have dtype long int, but got float instead"),
    (lambda: ttorch.t_copy(_t([[1.]]), out=ttorch.empty(0, dtype=ttorch.int64)),
     "Expected out tensor to have dtype float, but got long int instead"),
    (lambda: ttorch.softmax(_t([1., 2.]), 0, out=ttorch.empty(0, dtype=ttorch.float64)),
     "Expected out tensor to have dtype float, but got double instead"),
    (lambda: ttorch.mm(_t([[1]], ttorch.int64), _t([[1]], ttorch.int64), out=ttorch.empty(0)),
     "Expected out tensor to have dtype long int, but got float instead"),
    (lambda: ttorch.abs(_t([1.]), out=ttorch.empty(0, dtype=ttorch.float64)),
     "Found dtype Double but expected Float"),
    (lambda: ttorch.neg(_t([1], ttorch.int64), out=ttorch.empty(0)),
     "Found dtype Float but expected Long"),
    (lambda: ttorch.take(_t([1.]), _t([0], ttorch.int64), out=ttorch.empty(0, dtype=ttorch.float64)),
     "take\\(\\): self and out expected to have the same dtype, but got self.dtype = Float and out.dtype = Double"),
    (lambda: ttorch.index_select(_t([[1, 2]], ttorch.int64), 0, _t([0], ttorch.int64), out=ttorch.empty(0)),
     "index_select\\(\\): self and result must have the same scalar type"),
    (lambda: ttorch.nan_to_num(_t([1], ttorch.int64), out=ttorch.empty(0)),
     "nan_to_num: dtype of out: Float should be same as input: Long"),
    (lambda: ttorch.isneginf(_t([1.]), out=ttorch.empty(0)), "isneginf does not support non-boolean outputs."),
    (lambda: ttorch.inner(_t([1, 2], ttorch.int64), _t([1, 2], ttorch.int64), out=ttorch.empty(0)),
     "tensordot: Expected the output tensor to have dtype Long, but got an output tensor with dtype Float"),
    (lambda: ttorch.all(_t([1, 2], ttorch.int64), out=ttorch.empty(0)),
     "all only supports bool tensor for result, got: Float"),
    (lambda: ttorch.amax(_t([1, 2], ttorch.int64), 0, out=ttorch.empty(0)),
     "Expected the dtype for input and out to match, but got Long for input's dtype and Float for out's dtype."),
    (lambda: ttorch.signbit(_t([1.]), out=ttorch.empty(0)), "signbit does not support non-boolean outputs."),
    (lambda: ttorch.dot(_t([1, 2], ttorch.int64), _t([1, 2], ttorch.int64), out=ttorch.empty(0)),
     "result dtype Float does not match input dtype Long"),
    (lambda: ttorch.logspace(0, 2, 3, dtype=ttorch.int64, out=ttorch.empty(0)),
     r"dtype Long does not match dtype of out parameter \(Float\)"),
    (lambda: ttorch.cumsum(_t([1, 2], ttorch.int64), 0, dtype=ttorch.int64, out=ttorch.empty(0)),
     "Expected out tensor to have dtype long int, but got float instead"),
    (lambda: ttorch.max(_t([[1, 2]], ttorch.int64), 0, out=(ttorch.empty(0), ttorch.empty(0, dtype=ttorch.int64))),
     "Expected out tensor to have dtype long int, but got float instead"),
    (lambda: ttorch.cummax(_t([1, 2], ttorch.int64), 0, out=(ttorch.empty(0), ttorch.empty(0, dtype=ttorch.int64))),
     "expected scalar_type Long but found Float"),
    (lambda: ttorch.vdot(_t([1, 2], ttorch.int64), _t([1, 2], ttorch.int64), out=ttorch.empty(0)),
     "result dtype Float does not match input dtype Long"),
    (lambda: ttorch.nonzero(_t([1., 0.]), out=ttorch.empty(0)),
     "nonzero: Expected out tensor to have scalar type Long but got scalar typeFloat"),
])
def test_out_exact_dtype(call, msg):
    with pytest.raises(RuntimeError, match=msg):
        call()


def test_out_elementwise_still_casts_and_cat_type_error():
    o = ttorch.empty(0, dtype=ttorch.float64)
    ttorch.sin(_t([1, 1], ttorch.int64), out=o)
    np.testing.assert_allclose(to_np(o), [0.841471, 0.841471], rtol=1e-6)
    for f in (ttorch.cat, ttorch.stack):
        with pytest.raises(TypeError, match="torch.cat\\(\\): input types can't be cast to the desired output "
                                            "type Long"):
            f([_t([1.])], out=ttorch.empty(0, dtype=ttorch.int64))


# ----------------------------------------------------------------------------- complex inputs kept complex
X = [[1 + 2j, 3 - 1j, 0.5j], [2, 1j, -1]]


def test_complex_cov_corrcoef():
    x = _t(X, ttorch.complex128)
    c = ttorch.cov(x)
    assert c.dtype is ttorch.complex128
    np.testing.assert_allclose(to_np(c), [[4.583333, -0.416667 + 0.666667j], [-0.416667 - 0.666667j, 2.666667]],
                               rtol=1e-6)
    cw = ttorch.cov(x, fweights=_t([1, 2, 1], ttorch.int64), aweights=_t([0.5, 1., 2.], ttorch.float64))
    np.testing.assert_allclose(to_np(cw), [[4.375, 0.1428571 - 0.6785714j], [0.1428571 + 0.6785714j, 1.5714286]],
                               rtol=1e-6)
    np.testing.assert_allclose(to_np(ttorch.corrcoef(x)), [[1, -0.1191828 + 0.1906925j], [-0.1191828 - 0.1906925j, 1]],
                               rtol=1e-6)


def test_complex_logsumexp_ldexp_float_power_vecdot():
    x = _t(X, ttorch.complex128)
    np.testing.assert_allclose(to_np(ttorch.logsumexp(x, 1)), [2.8633269 - 0.9210870j, 2.1210390 + 0.1010702j],
                               rtol=1e-6)
    np.testing.assert_allclose(to_np(ttorch.logsumexp(x, (0, 1))), 3.1353942 - 0.6065104j, rtol=1e-6)
    ld = ttorch.ldexp(x, _t([1, 2, 3], ttorch.int64))
    assert ld.dtype is ttorch.complex128
    np.testing.assert_allclose(to_np(ld), [[2 + 4j, 12 - 4j, 4j], [4, 4j, -8]])
    fp = ttorch.float_power(x, 2)
    assert fp.dtype is ttorch.complex128
    np.testing.assert_allclose(to_np(fp), [[-3 + 4j, 8 - 6j, -0.25], [4, -1, 1]], atol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.linalg.vecdot(x, x)), [15.25, 6])     # (x conjugated)


# ----------------------------------------------------------------------------- conversions to bfloat16
def test_to_bfloat16_through_float32(device):
    # PyTorch rounds to bfloat16 through float32: 1 + 2^-8 + 2^-30 -> 1.0; 2^24 + 2^16 + 1 -> 2^24
    assert _t([1 + 2 ** -8 + 2 ** -30], ttorch.float64, device).to(ttorch.bfloat16).item() == 1.0
    assert _t([2 ** 24 + 2 ** 16 + 1], ttorch.int64, device).to(ttorch.bfloat16).item() == 2.0 ** 24
    assert _t([1, 0, 3, -7], ttorch.int64, device).bfloat16().float().cpu().tolist() == [1, 0, 3, -7]
    assert _t([True, False], ttorch.bool, device).bfloat16().float().cpu().tolist() == [1, 0]


# ----------------------------------------------------------------------------- as_strided bounds
def test_as_strided_out_of_storage():
    x = ttorch.arange(12.)
    with pytest.raises(RuntimeError, match=r"setStorage: sizes \[2, 2\], strides \[1, 2\], storage offset 10, and "
                                           r"itemsize 4 requiring a storage size of 56 are out of bounds for "
                                           r"storage of size 48"):
        x.as_strided((2, 2), (1, 2), 10)
    assert to_np(x.as_strided((2, 2), (1, 2), 8)).tolist() == [[8, 10], [9, 11]]
    assert to_np(x[2:].as_strided((3,), (2,))).tolist() == [2, 4, 6]     # (offset: the view's own)


def test_complex_norm_nuc_householder_ldexp_exponent():
    a = _t([[1 + 1j, 2], [3j, 4 - 1j], [1, 1j]], ttorch.complex128)
    np.testing.assert_allclose(ttorch.norm(a, "nuc").item(), 7.306895334522407, rtol=1e-12)
    tau = _t([1.2 + 0.3j, 0.5 - 0.1j], ttorch.complex128)
    np.testing.assert_allclose(to_np(ttorch.linalg.householder_product(a, tau)),     # (I - tau v v^H)
                               [[-0.2 - 0.3j, -0.84 + 2.34j], [0.9 - 3.6j, -6.52 - 2.42j],
                                [-1.2 - 0.3j, -0.94 + 1.84j]],
                               atol=1e-12)
    np.testing.assert_allclose(to_np(ttorch.ldexp(_t([1., 2.]), _t([1j, 1 + 1j], ttorch.complex64))),
                               [0.7692389 + 0.6389613j, 3.0769556 + 2.5558450j], rtol=1e-6)


def test_complex_truth_ops():
    z = _t([[1 + 1j, 0, 2j], [0, 0, 1]], ttorch.complex64)
    assert not ttorch.all(z).item() and ttorch.any(z).item()
    assert to_np(ttorch.any(z, 0)).tolist() == [True, False, True]
    assert to_np(ttorch.logical_and(z, z[0])).tolist() == [[True, False, True], [False, False, True]]
    assert to_np(ttorch.logical_xor(z, _t([1., 0., 0.]))).tolist() == [[False, False, True], [True, False, True]]
    assert to_np(ttorch.logical_not(z)).tolist() == [[False, True, False], [True, True, False]]
    w = z.clone()
    w.logical_and_(z)
    assert w.dtype is ttorch.complex64 and to_np(w).tolist() == [[1, 0, 1], [0, 0, 1]]


def test_complex_inverse_trig():
    w = _t([0.3 + 0.4j, -2 + 0.5j, 1.5 - 3j, 0.2j], ttorch.complex128)
    want = {"asin": [0.2806295622918058 + 0.4051123371780309j, -1.2930420702371825 + 1.3618009008578458j,
                     0.4465670490717699 - 1.9168395294689364j, 0.19869011034924142j],
            "acos": [1.2901667645030908 - 0.4051123371780309j, 2.863838397032079 - 1.3618009008578458j,
                     1.1242292777231266 + 1.9168395294689364j, 1.5707963267948966 - 0.19869011034924142j],
            "atan": [0.3373704711117763 + 0.37908687234202215j, -1.1265564408348223 + 0.09641562020299617j,
                     1.4284311075335405 - 0.2678959040700476j, 0.20273255405408216j],
            "asinh": [0.3189624333048184 + 0.3903162045220237j, -1.4657153519472905 + 0.22101863562288385j,
                      1.8902413596022003 - 1.0886482420610688j, 0.20135792079033082j],
            "acosh": [0.4051123371780309 + 1.2901667645030908j, 1.3618009008578458 + 2.863838397032079j,
                      1.9168395294689364 - 1.1242292777231266j, 0.19869011034924142 + 1.5707963267948966j],
            "atanh": [0.2614921387956719 + 0.4088225229163511j, -0.500370000052531 + 1.421546861001807j,
                      0.12498898788227171 - 1.3060015274038583j, 0.19739555984988078j]}
    for name, v in want.items():
        np.testing.assert_allclose(to_np(getattr(ttorch, name)(w)), v, atol=1e-13, err_msg=name)


def test_out_dtype_is_the_accumulation_dtype():
    # cumsum/cumprod with out=: computed in out's dtype (the input cast first), as PyTorch's
    o = ttorch.empty(0, dtype=ttorch.int64)
    assert ttorch.cumsum(_t([0.5, 0.7]), 0, out=o) is o and to_np(o).tolist() == [0, 0]
    assert to_np(ttorch.cumprod(_t([1.5, 2.7]), 0, out=ttorch.empty(0, dtype=ttorch.int64))).tolist() == [1, 2]
    assert to_np(ttorch.cumsum(_t([1, 2], ttorch.int64), 0, out=ttorch.empty(0))).tolist() == [1, 3]
    assert to_np(ttorch.logspace(0, 2, 3, out=ttorch.empty(0, dtype=ttorch.int64))).tolist() == [1, 10, 100]
    # inner with a 0-dim operand is a product: its out= casts, as mul's
    o = ttorch.empty(0, dtype=ttorch.float64)
    assert to_np(ttorch.inner(_t(2, ttorch.int64), _t([1, 2], ttorch.int64), out=o)).tolist() == [2, 4]


def test_complex_meshgrid_block_diag():
    a = ttorch.tensor([1 + 1j, 2j], requires_grad=True)
    x, y = ttorch.meshgrid(a.detach(), a.detach(), indexing="ij")
    assert to_np(x).tolist() == [[1 + 1j, 1 + 1j], [2j, 2j]] and to_np(y).tolist() == [[1 + 1j, 2j], [1 + 1j, 2j]]
    assert to_np(ttorch.cartesian_prod(a.detach(), a.detach()))[:, 1].tolist() == [1 + 1j, 2j, 1 + 1j, 2j]
    b = ttorch.block_diag(a.reshape(1, 2), a.reshape(2, 1))
    assert to_np(b.detach()).tolist() == [[1 + 1j, 2j, 0], [0, 0, 1 + 1j], [0, 0, 2j]]
    b.abs().sum().backward()
    np.testing.assert_allclose(to_np(a.grad), [1.4142136 + 1.4142136j, 2j], rtol=1e-6)
    x, y = _t([[1 + 1j, 2, 3j], [0, 1j, 1]], ttorch.complex64), _t([[2, 1j, 1], [1, 1, 1 + 2j]], ttorch.complex64)
    assert to_np(ttorch.linalg.cross(x, y)).tolist() == [[5, -1 + 5j, -5 + 1j], [-3 + 1j, 1, -1j]]


def test_complex_sinc_logaddexp_and_activations():
    F = ttorch.nn.functional
    z = _t([1 + 1j, 0.5j, 0, -2 + 0.3j], ttorch.complex128)
    w = _t([0.5 - 1j, 2, 1j, -1 - 1j], ttorch.complex128)
    want = {"sinc": ttorch.sinc(z), "logaddexp": ttorch.logaddexp(z, w), "softsign": F.softsign(z),
            "tanhshrink": F.tanhshrink(z), "silu": F.silu(z)}
    ref = {"sinc": [-1.8380389551874887 - 1.8380389551874892j, 1.465052383336635, 1, 0.025410366027149696 -
                    0.16940244018099837j],
           "logaddexp": [0.9263689921983479 + 0.36440315244291555j, 2.1139068776743946 + 0.057930330951316944j,
                         0.5625629401162227 + 0.5j, -0.8566029399255515 - 0.687835590618437j],
           "softsign": [0.4142135623730951 + 0.4142135623730951j, 0.3333333333333333j, 0,
                        -0.66173128907163 + 0.0992596933607445j],
           "tanhshrink": [-0.08392332733869456 + 0.7282474146804883j, -0.046302489843790484j, 0,
                          -1.029987353195881 + 0.2799299376337577j],
           "silu": [0.5800933429757363 + 0.9839897982917621j, -0.06383548030525907 + 0.25j, 0,
                    -0.2405918518421381 - 0.027963654675304338j]}
    for name, got in want.items():
        assert got.dtype is ttorch.complex128, name
        np.testing.assert_allclose(to_np(got), ref[name], atol=1e-13, err_msg=name)


def test_bfloat16_comparisons(device):
    # (the simulated device compared bf16 raw bits: negative values ordered wrongly)
    x = _t([-1.5, 2., -3., 0.5, -7.], ttorch.bfloat16, device)
    assert ttorch.cummax(x, 0).values.float().cpu().tolist() == [-1.5, 2, 2, 2, 2]
    assert ttorch.cummin(x, 0).values.float().cpu().tolist() == [-1.5, -1.5, -3, -3, -7]
    assert ttorch.bucketize(x, _t([-2., 0., 1.], ttorch.bfloat16, device)).cpu().tolist() == [1, 3, 0, 2, 0]
    assert ttorch.maximum(x, ttorch.zeros(5, dtype=ttorch.bfloat16, device=device)).float().cpu().tolist() == \
        [0, 2, 0, 0.5, 0]
    assert (x < 0).cpu().tolist() == [True, False, True, False, True]


def test_host_fallback_keeps_0dim(device):
    # (the cuda host fallback made a single matrix's 0-dim info 1-dim)
    a = ttorch.tensor([[1 + 1j, 2], [3, 4j]], device=device)
    r = ttorch.linalg.lu_factor_ex(a)
    assert r.info.shape == () and r.info.item() == 0
    assert ttorch.linalg.lu_factor_ex(ttorch.stack([a, a])).info.shape == (2,)


def test_complex_masked_var_and_sum_with_real_dtype():
    x = _t([[1 + 1j, 2, 3j], [0, 1j, 1]], ttorch.complex64)
    m = ttorch.tensor([[True, False, True], [True, True, True]])
    v = ttorch.masked.var(x, 1, mask=m)
    assert v.dtype is ttorch.complex64     # (sum of x * conj(x) in the complex dtype, as PyTorch's)
    np.testing.assert_allclose(to_np(v), [2.5, 0.6666667], atol=1e-6)
    np.testing.assert_allclose(to_np(ttorch.masked.std(x, 1, mask=m)), [1.5811388, 0.8164966], atol=1e-6)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        s = ttorch.sum(_t([1 + 1j, 2], ttorch.complex128), dtype=ttorch.float64)
    assert s.dtype is ttorch.float64 and s.item() == 3.0


def test_grid_sample_half_grid_indexes_past_2048():
    # the flat index 7999 is not a float16 value: it must be counted in integers
    inp = (ttorch.arange(8000) % 7).reshape(1, 1, 20, 20, 20).half()
    g = ttorch.tensor([1., 1., 1., 1., 0.9, -1.]).reshape(1, 1, 1, 2, 3).half()
    r = ttorch.nn.functional.grid_sample(inp, g, mode="nearest", align_corners=True)
    assert r.float().tolist() == [[[[[5.0, 1.0]]]]]
