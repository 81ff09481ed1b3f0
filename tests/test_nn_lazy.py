"""Lazy modules and uninitialized parameters: PyTorch's errors and reprs, shape inference on the first
call, the change to the regular class, state-dict round trips in every direction, dtype and device
chosen before the first call, outputs against NumPy (float64) and the regular module, and both devices."""
import copy
import doctest
import math
import pickle
import sys

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F
from ttorch.autograd import gradcheck
from ttorch.nn.parameter import UninitializedParameter, UninitializedBuffer, is_lazy

from _helpers import close


def _np(t):
    return t.detach().cpu().numpy()


# ----------------------------------------------------------------------------- uninitialized tensors
def test_uninitialized_parameter_refuses_data_access():
    p = nn.UninitializedParameter()
    assert isinstance(p, nn.Parameter) and isinstance(p, UninitializedParameter) and is_lazy(p)
    assert repr(p) == "<UninitializedParameter>" and p.requires_grad and p.is_leaf and p.grad is None
    assert p.dtype is ttorch.float32 and p.device.type == "cpu" and p.size() == (0,)
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter or buffer"):
        p.shape
    msg = "Attempted to use an uninitialized parameter in .*torch.nn.parameter.UninitializedParameter"
    for use in (lambda: F.linear(ttorch.ones(2, 3), p), p.detach, p.numel, p.dim, lambda: ttorch.cat([p])):
        with pytest.raises(ValueError, match=msg):
            use()
    with pytest.raises(RuntimeError, match="Can't share memory on an uninitialized parameter"):
        p.share_memory_()


def test_uninitialized_dtype_device_copy_and_pickle():
    p = UninitializedParameter(requires_grad=False, dtype=ttorch.float64)
    assert p.dtype is ttorch.float64 and not p.requires_grad
    for q in (p.float(), p.to(ttorch.float32), p.to(dtype=ttorch.float32, device="cpu")):
        assert type(q) is UninitializedParameter and q.dtype is ttorch.float32 and not q.requires_grad
    assert p.dtype is ttorch.float64                    # to() gives a new one
    p.data = ttorch.empty(0, dtype=ttorch.float16)     # what Module._apply does: takes dtype and device only
    assert type(p) is UninitializedParameter and p.dtype is ttorch.float16
    q = copy.deepcopy(p)
    assert type(q) is UninitializedParameter and q is not p and q.dtype is ttorch.float16
    r = pickle.loads(pickle.dumps(nn.UninitializedParameter()))
    assert type(r) is UninitializedParameter and r.requires_grad
    b = UninitializedBuffer(persistent=False)
    assert isinstance(b, nn.Buffer) and not isinstance(b, nn.Parameter) and repr(b) == "<UninitializedBuffer>"
    assert not b.requires_grad and b.double().persistent is False and b.double().dtype is ttorch.float64


def test_materialize_in_place():
    p = UninitializedParameter(dtype=ttorch.float64)
    ident = id(p)
    p.materialize((2, 3))
    assert type(p) is ttorch.Tensor and id(p) == ident and not is_lazy(p)
    assert isinstance(p, nn.Parameter) and p.shape == (2, 3) and p.dtype is ttorch.float64 and p.requires_grad
    assert repr(p).startswith("Parameter containing:")
    q = UninitializedParameter()
    q.materialize(4, dtype=ttorch.float16)
    assert q.shape == (4,) and q.dtype is ttorch.float16
    b = UninitializedBuffer(persistent=False)
    b.materialize([3])
    assert type(b) is ttorch.Tensor and isinstance(b, nn.Buffer) and not isinstance(b, nn.Parameter)
    assert b.shape == (3,) and not b.requires_grad and b.persistent is False
    b.fill_(2.0)
    assert _np(b).tolist() == [2.0, 2.0, 2.0]


# ----------------------------------------------------------------------------- LazyLinear
def test_lazy_linear_infers_and_becomes_linear():
    m = nn.LazyLinear(3)
    assert repr(m) == "LazyLinear(in_features=0, out_features=3, bias=True)"
    assert m.has_uninitialized_params() and m.cls_to_become is nn.Linear
    assert [repr(p) for p in m.parameters()] == ["<UninitializedParameter>"] * 2
    weight = m.weight
    x = np.random.default_rng(0).standard_normal((2, 5, 7))
    y = m(ttorch.tensor(x, dtype=ttorch.float32))
    assert type(m) is nn.Linear and m.in_features == 7 and m.weight is weight and not is_lazy(m.bias)
    assert repr(m) == "Linear(in_features=7, out_features=3, bias=True)"
    assert not m._forward_pre_hooks and not m._load_state_dict_pre_hooks and "_initialize_hook" not in vars(m)
    bound = 1 / math.sqrt(7)                       # reset_parameters ran: U(-1/sqrt(in), 1/sqrt(in))
    assert 0 < np.abs(_np(m.weight)).max() <= bound and 0 < np.abs(_np(m.bias)).max() <= bound
    close(y, x @ _np(m.weight).T.astype(np.float64) + _np(m.bias), ttorch.float32, n=7)
    y.sum().backward()
    close(m.weight.grad, np.ones((10, 3)).T @ x.reshape(10, 7), ttorch.float32, n=10)
    assert m(ttorch.ones(4, 7)).shape == (4, 3)    # later calls: a plain Linear


def test_lazy_linear_dtype_bias_and_errors():
    m = nn.LazyLinear(2, bias=False).double()
    assert m.bias is None and list(m.state_dict()) == ["weight"] and m.weight.dtype is ttorch.float64
    m(ttorch.ones(5, dtype=ttorch.float64))
    assert m.weight.shape == (2, 5) and m.weight.dtype is ttorch.float64 and m.bias is None
    with pytest.raises(TypeError):
        nn.LazyLinear(4)(ttorch.ones(3, 4), 5)     # initialize_parameters takes the forward's arguments
    with pytest.raises(NotImplementedError, match="initialize_parameters is not implemented for LazyLinear"):
        nn.modules.lazy.LazyModuleMixin.initialize_parameters(nn.LazyLinear(3))

    class Half(nn.modules.lazy.LazyModuleMixin, nn.Linear):
        def __init__(self):
            super().__init__(0, 0)
            self.weight = nn.UninitializedParameter()

        def initialize_parameters(self, input):
            pass

    with pytest.warns(UserWarning, match="zero-element"):
        half = Half()
    with pytest.raises(RuntimeError, match="module Half has not been fully initialized"):
        half(ttorch.ones(2))


def test_deepcopy_before_the_first_call():
    m = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    c = copy.deepcopy(m)
    assert m(ttorch.ones(3, 5)).shape == (3, 2) and c(ttorch.ones(3, 7)).shape == (3, 2)
    assert (m[0].in_features, c[0].in_features, m[2].in_features) == (5, 7, 4)
    assert type(c[0]) is nn.Linear and not c[0]._forward_pre_hooks and not m[0]._forward_pre_hooks


# ----------------------------------------------------------------------------- state dicts
def test_state_dict_of_a_lazy_module():
    m = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    sd = m.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                        "1.num_batches_tracked"]
    assert [type(v).__name__ for v in sd.values()][:6] == ["UninitializedParameter"] * 4 + ["UninitializedBuffer"] * 2
    assert sd["0.weight"] is m[0].weight                # nothing to detach: saved as they are
    assert sd["1.num_batches_tracked"].item() == 0
    # uninitialized into uninitialized: nothing changes, no key missing
    other = nn.Sequential(nn.LazyLinear(3), nn.LazyBatchNorm1d())
    assert not other.load_state_dict(sd).missing_keys and other[0].has_uninitialized_params()
    # uninitialized into initialized: PyTorch's error
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized parameter"):
        nn.Linear(4, 3).load_state_dict(nn.LazyLinear(3).state_dict())


def test_load_initialized_state_into_lazy_module():
    ref = nn.Linear(4, 3)
    m = nn.LazyLinear(3)
    assert m.load_state_dict(ref.state_dict())
    assert type(m) is nn.LazyLinear and not m.has_uninitialized_params() and m.weight.shape == (3, 4)
    y = m(ttorch.ones(2, 4))                            # the first call keeps the loaded values
    assert type(m) is nn.Linear and m.in_features == 4
    np.testing.assert_array_equal(_np(m.weight), _np(ref.weight))
    np.testing.assert_array_equal(_np(y), _np(ref(ttorch.ones(2, 4))))
    m = nn.LazyLinear(3)
    m.load_state_dict(ref.state_dict())
    with pytest.raises(AssertionError, match="in_features inferred from input: 5 is not equal to in_features from "
                                             "self.weight: 4"):
        m(ttorch.ones(2, 5))
    m = nn.LazyLinear(3)                                # a partial state: bias stays uninitialized
    res = m.load_state_dict({"weight": ttorch.ones(3, 4)}, strict=False)
    assert res.missing_keys == ["bias"] and not is_lazy(m.weight) and is_lazy(m.bias)


@pytest.mark.parametrize("make,shape", [(lambda: nn.LazyConv2d(4, 3, groups=2), (2, 6, 5, 5)),
                                        (lambda: nn.LazyBatchNorm1d(), (4, 3)),
                                        (lambda: nn.LazyInstanceNorm1d(), (2, 3, 5))])
def test_state_dict_round_trip(make, shape):
    src = make()
    x = ttorch.randn(*shape)
    src(x)
    src.eval()
    dst = make()
    dst.load_state_dict(src.state_dict())
    dst.eval()
    np.testing.assert_array_equal(_np(dst(x)), _np(src(x)))
    assert type(dst) is type(src) and repr(dst) == repr(src)    # in_channels/num_features inferred, not 0
    for (k, v), (k2, w) in zip(src.state_dict().items(), dst.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(_np(v), _np(w))


# ----------------------------------------------------------------------------- convolutions
CONVS = [(nn.LazyConv1d, nn.Conv1d, (6,), dict(kernel_size=3, padding=1, groups=2), (2, 4, 9)),
         (nn.LazyConv1d, nn.Conv1d, (3,), dict(kernel_size=2), (4, 7)),
         (nn.LazyConv2d, nn.Conv2d, (4,), dict(kernel_size=3, stride=2, bias=False, padding=1,
                                               padding_mode="reflect"), (1, 3, 7, 6)),
         (nn.LazyConv3d, nn.Conv3d, (2,), dict(kernel_size=2, dilation=2), (1, 2, 5, 5, 4)),
         (nn.LazyConvTranspose1d, nn.ConvTranspose1d, (4,), dict(kernel_size=3, stride=2, output_padding=1),
          (2, 3, 5)),
         (nn.LazyConvTranspose2d, nn.ConvTranspose2d, (4,), dict(kernel_size=3, groups=2, stride=2), (1, 6, 3, 4)),
         (nn.LazyConvTranspose3d, nn.ConvTranspose3d, (2,), dict(kernel_size=2, stride=2), (3, 2, 2, 3))]


@pytest.mark.parametrize("lazy_cls,cls,args,kwargs,shape", CONVS)
def test_lazy_conv_matches_the_regular_module(lazy_cls, cls, args, kwargs, shape):
    m = lazy_cls(*args, **kwargs)
    assert repr(m).startswith(f"{lazy_cls.__name__}(0, {args[0]}, ")
    x = ttorch.randn(*shape)
    y = m(x)
    in_channels = shape[1] if len(shape) == len(m.kernel_size) + 2 else shape[0]
    ref = cls(in_channels, *args, **kwargs)
    assert type(m) is cls and repr(m) == repr(ref) and m.weight.shape == ref.weight.shape
    assert (m.bias is None) == (ref.bias is None)
    fan_in = m.weight[0].numel() if not m.transposed else m.weight.shape[1] * math.prod(m.kernel_size)
    assert np.abs(_np(m.weight)).max() <= 1 / math.sqrt(fan_in)          # reset_parameters ran
    ref.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(_np(y), _np(ref(x)))


def test_lazy_conv_errors_and_gradients():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d, but got "
                                           r"input of size: ttorch.Size\(\[3, 4\]\)"):
        nn.LazyConv2d(4, 3)(ttorch.randn(3, 4))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(ttorch.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for LazyConvTranspose2d'):
        nn.LazyConvTranspose2d(4, 3, padding_mode="reflect")
    m = nn.LazyConvTranspose1d(2, 3, stride=2, dtype=ttorch.float64)
    x = ttorch.randn(1, 3, 4, dtype=ttorch.float64, requires_grad=True)
    assert m(x, output_size=[10]).shape == (1, 2, 10)   # the forward's arguments reach the hook too
    assert gradcheck(lambda x, w, b: F.conv_transpose1d(x, w, b, 2), (x, m.weight, m.bias))


# ----------------------------------------------------------------------------- norms
NORMS = [(nn.LazyBatchNorm1d, nn.BatchNorm1d, {}, (4, 3)), (nn.LazyBatchNorm1d, nn.BatchNorm1d, {"momentum": None},
                                                           (4, 3, 5)),
         (nn.LazyBatchNorm2d, nn.BatchNorm2d, {"affine": False}, (2, 3, 4, 4)),
         (nn.LazyBatchNorm3d, nn.BatchNorm3d, {"track_running_stats": False}, (2, 3, 2, 2, 2)),
         (nn.LazyInstanceNorm1d, nn.InstanceNorm1d, {}, (2, 3, 5)),
         (nn.LazyInstanceNorm1d, nn.InstanceNorm1d, {}, (3, 5)),          # unbatched: channels are dim 0
         (nn.LazyInstanceNorm2d, nn.InstanceNorm2d, {"eps": 1e-3}, (2, 3, 4, 5)),
         (nn.LazyInstanceNorm3d, nn.InstanceNorm3d, {"affine": False}, (2, 3, 2, 3, 2))]


@pytest.mark.parametrize("lazy_cls,cls,kwargs,shape", NORMS)
def test_lazy_norm_matches_the_regular_module(lazy_cls, cls, kwargs, shape):
    m = lazy_cls(**kwargs)
    affine, track = m.affine, m.track_running_stats
    assert (lazy_cls is nn.LazyBatchNorm1d or affine == kwargs.get("affine", True))    # PyTorch's defaults
    assert repr(m).startswith(f"{lazy_cls.__name__}(0, ")
    assert list(m.state_dict()) == ["weight", "bias"] * affine + ["running_mean", "running_var",
                                                                  "num_batches_tracked"] * track
    x = ttorch.randn(*shape)
    y = m(x)
    c = shape[1] if len(shape) > 2 or lazy_cls.__name__.startswith("LazyBatch") else shape[0]
    c = shape[0] if lazy_cls is nn.LazyInstanceNorm1d and len(shape) == 2 else c
    ref = cls(c, affine=affine, track_running_stats=track, **{k: v for k, v in kwargs.items()
                                                              if k not in ("affine", "track_running_stats")})
    assert type(m) is cls and repr(m) == repr(ref) and m.num_features == c
    if affine:
        assert _np(m.weight).tolist() == [1.0] * c and _np(m.bias).tolist() == [0.0] * c
    ref(x)                                             # the same update of the running statistics
    for (k, v), (k2, w) in zip(m.state_dict().items(), ref.state_dict().items()):
        assert k == k2
        np.testing.assert_allclose(_np(v), _np(w), rtol=1e-6, atol=1e-7)
    m.eval()
    ref.eval()
    np.testing.assert_allclose(_np(m(x)), _np(ref(x)), rtol=1e-6, atol=1e-6)
    assert y.shape == x.shape


def test_lazy_norm_bias_false_and_input_checks():
    m = nn.LazyBatchNorm1d(bias=False, dtype=ttorch.float64)
    assert list(m.state_dict()) == ["weight", "running_mean", "running_var", "num_batches_tracked"]
    x = np.random.default_rng(0).standard_normal((6, 3))
    y = m(ttorch.tensor(x))
    assert type(m) is nn.BatchNorm1d and m.bias is None
    close(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), ttorch.float64)
    close(m.running_var, 0.9 + 0.1 * x.var(0, ddof=1), ttorch.float64)
    m.reset_parameters()
    # checked before any shape is fixed: the module stays lazy and can still infer
    m = nn.LazyBatchNorm2d()
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        m(ttorch.randn(3, 4))
    assert type(m) is nn.LazyBatchNorm2d and m.has_uninitialized_params()
    assert m(ttorch.randn(2, 5, 3, 3)).shape == (2, 5, 3, 3) and m.num_features == 5
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.LazyInstanceNorm1d()(ttorch.randn(1, 2, 3, 4))


# ----------------------------------------------------------------------------- devices
def test_lazy_modules_on_device(device):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 5))
    net = nn.Sequential(nn.LazyConv1d(4, 3, padding=1), nn.LazyBatchNorm1d(), nn.Flatten(), nn.LazyLinear(2))
    net = net.to(device)                               # moved before the first call: only the device changes
    net[3] = nn.LazyLinear(2, device=device)           # or made there
    y = net(ttorch.tensor(x, dtype=ttorch.float32, device=device))
    assert [type(m).__name__ for m in net] == ["Conv1d", "BatchNorm1d", "Flatten", "Linear"]
    assert all(t.device.type == device for t in net.state_dict().values())
    assert net[3].weight.shape == (2, 20) and y.device.type == device
    conv, lin = net[0], net[3]
    w, b = _np(conv.weight).astype(np.float64), _np(conv.bias).astype(np.float64)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1)))
    h = np.stack([np.einsum("ncl,ocl->no", xp[:, :, i:i + 3], w) for i in range(5)], -1) + b[:, None]
    h = (h - h.mean((0, 2), keepdims=True)) / np.sqrt(h.var((0, 2), keepdims=True) + 1e-5)
    want = h.reshape(2, 20) @ _np(lin.weight).T.astype(np.float64) + _np(lin.bias)
    close(y, want, ttorch.float32, n=20)


def test_docstring_examples():
    from ttorch.nn.modules import lazy
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for obj in (lazy, UninitializedParameter, nn.LazyLinear, nn.LazyConv1d, nn.LazyBatchNorm1d,
                nn.LazyInstanceNorm1d):
        module = sys.modules[obj.__name__ if isinstance(obj, type(sys)) else obj.__module__]
        for test in finder.find(obj, module=module, globs=dict(vars(module), ttorch=ttorch)):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= 6
