"""Conv / pooling / padding / pixel-shuffle / upsampling modules: shapes, init, state dicts, printout, errors."""
import math

import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
import ttorch.nn.functional as F

from _helpers import close
from test_nn_conv import ref_conv2d, ref_conv_transpose2d

f32 = ttorch.float32


def T(a, device="cpu", dtype=f32, grad=False):
    return ttorch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=grad)


def test_conv2d_weight_shape_and_init():
    m = nn.Conv2d(16, 32, 3, groups=2)
    assert m.weight.shape == (32, 8, 3, 3) and m.bias.shape == (32,)
    assert list(m.state_dict().keys()) == ["weight", "bias"]
    bound = 1 / math.sqrt(8 * 9)  # kaiming_uniform_(a=sqrt(5)) on fan_in = in/groups * kH * kW
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(b).max() <= bound
    t = nn.ConvTranspose2d(6, 4, (3, 2), groups=2, bias=False)
    assert t.weight.shape == (6, 2, 3, 2) and t.bias is None
    assert np.abs(t.weight.detach().numpy()).max() <= 1 / math.sqrt(2 * 6)  # PyTorch's fan_in is dim 1 here
    assert nn.Conv1d(4, 6, 5, groups=2).weight.shape == (6, 2, 5)
    assert nn.ConvTranspose1d(4, 6, 5).weight.shape == (4, 6, 5)


def test_conv_extra_repr():
    assert repr(nn.Conv2d(3, 8, 3)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))"
    assert repr(nn.Conv2d(4, 8, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False,
                          padding_mode="reflect")) == ("Conv2d(4, 8, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), "
                                                       "dilation=(2, 2), groups=2, bias=False, padding_mode=reflect)")
    assert repr(nn.Conv1d(2, 3, 3, padding="same")) == "Conv1d(2, 3, kernel_size=(3,), stride=(1,), padding=same)"
    assert repr(nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1)) == \
        "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"


def test_conv2d_state_dict_load_matches_numpy(device):
    w, b = np.random.randn(6, 2, 3, 2), np.random.randn(6)
    m = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, groups=2).to(device)
    m.load_state_dict({"weight": T(w), "bias": T(b)})
    x = np.random.randn(2, 4, 7, 5)
    close(m(T(x, device)), ref_conv2d(x, w, b, (2, 1), (1, 1), (1, 1), 2), f32, n=12)


@pytest.mark.parametrize("mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")])
def test_conv_padding_mode(device, mode, np_mode):
    m = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode).to(device)
    x = np.random.randn(1, 2, 5, 6)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), mode=np_mode)
    w, b = m.weight.detach().cpu().numpy(), m.bias.detach().cpu().numpy()
    close(m(T(x, device)), ref_conv2d(xp, w, b, (1, 1), (0, 0), (1, 1), 1), f32, n=18)
    m1 = nn.Conv1d(2, 3, 4, padding="same", padding_mode=mode)
    assert m1(T(np.random.randn(2, 2, 7))).shape == (2, 3, 7)


def test_conv_transpose_module_output_size(device):
    m = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1).to(device)
    x = np.random.randn(1, 4, 3, 3)
    y = m(T(x, device), output_size=(6, 6))
    w, b = m.weight.detach().cpu().numpy(), m.bias.detach().cpu().numpy()
    close(y, ref_conv_transpose2d(x, w, b, (2, 2), (1, 1), (1, 1), 1, (1, 1)), f32, n=36)
    assert m(T(x, device)).shape == (1, 2, 5, 5)
    with pytest.raises(ValueError, match="requested an output size of \\[7, 7\\], but valid sizes range from"):
        m(T(x, device), output_size=[7, 7])
    m1 = nn.ConvTranspose1d(3, 2, 3, stride=3)
    assert m1(T(np.random.randn(3, 4)), output_size=[12]).shape == (2, 12)


def test_conv_module_errors():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="out_channels must be divisible by groups"):
        nn.Conv2d(4, 3, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(4, 3, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        nn.Conv2d(4, 3, 3, padding="full")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv1d(4, 3, 3, padding="same", stride=2)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(4, 3, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError, match=r"expected input\[1, 4, 5, 5\] to have 3 channels, but got 4 channels"):
        nn.Conv2d(3, 2, 3)(ttorch.zeros(1, 4, 5, 5))


def test_conv_module_cpu_cuda_parity():
    if not ttorch.cuda.is_available():
        pytest.skip("no cuda device")
    m = nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular")
    mc = nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular").to("cuda")
    mc.load_state_dict(m.state_dict())
    x = np.random.randn(1, 2, 4, 3)
    ys = []
    for mod, dev in ((m, "cpu"), (mc, "cuda")):
        y = mod(T(x, dev))
        (y * y).sum().backward()
        ys.append((y, mod.weight.grad, mod.bias.grad))
    for a, e in zip(ys[1], ys[0]):
        close(a, e, f32, n=32)


def test_pooling_modules(device):
    x = T(np.random.randn(2, 3, 7, 6), device)
    close(nn.MaxPool2d(3, 2, 1, ceil_mode=True)(x), F.max_pool2d(x, 3, 2, 1, ceil_mode=True), f32)
    y, i = nn.MaxPool2d(2, return_indices=True)(x)
    assert y.shape == (2, 3, 3, 3) and i.shape == (2, 3, 3, 3)
    close(nn.AvgPool2d(3, 2, 1, count_include_pad=False)(x), F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), f32)
    assert nn.AdaptiveAvgPool2d((1, None))(x).shape == (2, 3, 1, 6)
    assert nn.AdaptiveMaxPool2d(2, return_indices=True)(x)[1].shape == (2, 3, 2, 2)
    x1 = T(np.random.randn(2, 3, 9), device)
    assert nn.MaxPool1d(3)(x1).shape == (2, 3, 3) and nn.AvgPool1d(2, 1)(x1).shape == (2, 3, 8)
    assert nn.AdaptiveAvgPool1d(4)(x1).shape == (2, 3, 4) and nn.AdaptiveMaxPool1d(2)(x1).shape == (2, 3, 2)
    assert repr(nn.MaxPool2d(3, 2)) == "MaxPool2d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AdaptiveAvgPool2d((5, 7))) == "AdaptiveAvgPool2d(output_size=(5, 7))"


def test_padding_modules(device):
    x = np.random.randn(1, 2, 4, 5)
    t = T(x, device)
    pw = ((0, 0), (0, 0), (3, 0), (1, 2))
    close(nn.ZeroPad2d((1, 2, 3, 0))(t), np.pad(x, pw), f32)
    close(nn.ConstantPad2d((1, 2, 3, 0), -1.5)(t), np.pad(x, pw, constant_values=-1.5), f32)
    close(nn.ReflectionPad2d((1, 2, 3, 0))(t), np.pad(x, pw, mode="reflect"), f32)
    close(nn.ReplicationPad2d((1, 2, 3, 0))(t), np.pad(x, pw, mode="edge"), f32)
    close(nn.CircularPad2d((1, 2, 3, 0))(t), np.pad(x, pw, mode="wrap"), f32)
    x1 = np.random.randn(2, 5)
    close(nn.ReflectionPad1d(2)(T(x1, device)), np.pad(x1, ((0, 0), (2, 2)), mode="reflect"), f32)
    close(nn.ConstantPad1d(1, 2.0)(T(x1, device)), np.pad(x1, ((0, 0), (1, 1)), constant_values=2.0), f32)
    close(nn.ReplicationPad1d((0, 3))(T(x1, device)), np.pad(x1, ((0, 0), (0, 3)), mode="edge"), f32)
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad1d(2, 3.5)) == "ConstantPad1d(padding=(2, 2), value=3.5)"
    assert repr(nn.ReflectionPad2d((1, 0, 2, 0))) == "ReflectionPad2d((1, 0, 2, 0))"
    with pytest.raises(ValueError, match="expected 3D or 4D input \\(got 2D input\\)"):
        nn.CircularPad2d(1)(T(x1, device))


def test_pixel_shuffle_and_upsample_modules(device):
    x = T(np.random.randn(1, 8, 3, 2), device)
    y = nn.PixelShuffle(2)(x)
    assert y.shape == (1, 2, 6, 4)
    close(nn.PixelUnshuffle(2)(y), x, f32)
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    close(nn.Upsample(scale_factor=2, mode="bilinear")(x), F.interpolate(x, scale_factor=2, mode="bilinear"), f32)
    close(nn.UpsamplingBilinear2d(size=(4, 5))(x), F.interpolate(x, size=(4, 5), mode="bilinear", align_corners=True),
          f32)
    assert nn.UpsamplingNearest2d(scale_factor=3)(x).shape == (1, 8, 9, 6)
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"
    assert repr(nn.Upsample(size=(3, 4), mode="bilinear")) == "Upsample(size=(3, 4), mode='bilinear')"


def test_small_cnn_trains():
    # conv -> relu -> maxpool -> conv -> adaptive avg pool; plain SGD must drive an MSE target down
    ttorch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 2, 3, padding="same"), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    x = ttorch.randn(8, 1, 6, 6)
    target = ttorch.tensor(np.random.randn(8, 2) * 0.5, dtype=f32)
    losses = []
    for _ in range(30):
        loss = ((model(x) - target) ** 2).mean()
        model.zero_grad()
        loss.backward()
        with ttorch.no_grad():
            for p in model.parameters():
                p -= 0.3 * p.grad
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses
