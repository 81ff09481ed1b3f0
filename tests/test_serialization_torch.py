"""ttorch.load reading PyTorch checkpoints without torch: zip and legacy files written here by hand
(stand-ins name torch's globals in the pickle), and the refusal of any other global."""
import collections
import io
import os
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np
import pytest

import ttorch
from ttorch import nn


def host(t):
    return t.detach().cpu().numpy()


class _G:
    """A global as the pickle names it (``torch._utils._rebuild_tensor_v2``): torch is not installed."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):   # pickle wants a callable in a reduce tuple; it is only ever written
        raise TypeError("a stand-in")


class _Storage:
    def __init__(self, key, type_name, array, location="cpu"):
        self.key, self.type_name, self.array, self.location = key, type_name, array, location


class _Tensor:
    def __init__(self, storage, offset, size, stride, requires_grad=False):
        self.args = (storage, offset, tuple(size), tuple(stride), requires_grad, collections.OrderedDict())

    def __reduce_ex__(self, proto):
        return _G("torch._utils", "_rebuild_tensor_v2"), self.args


class _Param:
    def __init__(self, data, requires_grad=True):
        self.data, self.requires_grad = data, requires_grad

    def __reduce_ex__(self, proto):
        return _G("torch._utils", "_rebuild_parameter"), (self.data, self.requires_grad, collections.OrderedDict())


class _Call:
    """Any call ``module.name(*args)`` written into the pickle."""

    def __init__(self, module, name, *args):
        self.g, self.args = _G(module, name), args

    def __reduce_ex__(self, proto):
        return self.g, self.args


class _TorchPickler(pickle._Pickler):
    """Writes globals by name and storages as PyTorch's persistent ids, as torch.save does."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_g(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    dispatch[_G] = _save_g

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", _G("torch", obj.type_name), obj.key, obj.location, obj.array.size)
        return None


def torch_zip(obj, storages, prefix="archive", byteorder="little"):
    pkl = io.BytesIO()
    _TorchPickler(pkl, protocol=2).dump(obj)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{prefix}/data.pkl", pkl.getvalue())
        zf.writestr(f"{prefix}/byteorder", byteorder)
        for s in storages:
            a = s.array.byteswap() if byteorder == "big" else s.array
            zf.writestr(f"{prefix}/data/{s.key}", a.tobytes())
        zf.writestr(f"{prefix}/version", "3\n")
    buf.seek(0)
    return buf


def test_pytorch_zip_checkpoint(tmp_path):
    w = np.arange(24, dtype=np.float32)
    s_w = _Storage("0", "FloatStorage", w)
    s_i = _Storage("1", "LongStorage", np.array([5, -6, 7], np.int64), "cuda:0")
    s_b = _Storage("2", "BFloat16Storage", np.array([1.5, -2.25], ml_dtypes.bfloat16))
    s_m = _Storage("3", "BoolStorage", np.array([True, False, True]))
    sd = collections.OrderedDict()
    sd["fc.weight"] = _Param(_Tensor(s_w, 0, (3, 4), (4, 1)))
    sd["fc.t"] = _Tensor(s_w, 2, (4, 3), (1, 4))              # a transposed view with an offset
    sd["fc.step"] = _Tensor(s_w, 13, (2, 2), (5, 2))          # strides and offset, sharing the storage
    sd["ids"] = _Tensor(s_i, 1, (2,), (1,))
    sd["scalar"] = _Tensor(s_i, 2, (), ())
    sd["bf"] = _Tensor(s_b, 0, (2,), (1,), requires_grad=True)
    sd["mask"] = _Tensor(s_m, 0, (3,), (1,))
    sd._metadata = collections.OrderedDict([("fc", {"version": 1})])
    obj = {"model": sd, "epoch": 3, "opt": {"state": {0: {"lr": 0.1}}}, "dtype": _G("torch", "bfloat16"),
           "size": _Call("torch", "Size", (2, 3)), "device": _Call("torch", "device", "cuda", 0), "raw": b"\x00\x01",
           "tup": (1.5, None, True), "set": {1, 2}}
    for prefix, order in [("archive", "little"), ("my_model", "big")]:
        out = ttorch.load(torch_zip(obj, [s_w, s_i, s_b, s_m], prefix, order), map_location="cpu")
        m = out["model"]
        assert type(m) is collections.OrderedDict and list(m) == list(sd) and m._metadata == sd._metadata
        assert isinstance(m["fc.weight"], nn.Parameter) and m["fc.weight"].requires_grad
        np.testing.assert_array_equal(host(m["fc.weight"]), w[:12].reshape(3, 4))
        np.testing.assert_array_equal(host(m["fc.t"]), w[2:14].reshape(3, 4).T)
        np.testing.assert_array_equal(host(m["fc.step"]), [[13, 15], [18, 20]])
        assert m["ids"].dtype is ttorch.int64 and host(m["ids"]).tolist() == [-6, 7]
        assert m["scalar"].shape == () and m["scalar"].item() == 7
        assert m["bf"].dtype is ttorch.bfloat16 and m["bf"].requires_grad and m["bf"].tolist() == [1.5, -2.25]
        assert m["mask"].dtype is ttorch.bool and m["mask"].tolist() == [True, False, True]
        assert not isinstance(m["fc.t"], nn.Parameter) and not m["fc.t"].requires_grad
        assert out["epoch"] == 3 and out["opt"] == {"state": {0: {"lr": 0.1}}} and out["dtype"] is ttorch.bfloat16
        assert out["size"] == ttorch.Size([2, 3]) and type(out["size"]) is ttorch.Size
        assert out["device"] == ttorch.device("cuda", 0) and out["raw"] == b"\x00\x01"
        assert out["tup"] == (1.5, None, True) and out["set"] == {1, 2}
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(torch_zip({"w": _Tensor(s_i, 0, (3,), (1,))}, [s_i]).getvalue())
    assert ttorch.load(path, map_location={"cuda:0": "cpu"})["w"].tolist() == [5, -6, 7]
    if ttorch.cuda.is_available():
        assert ttorch.load(path)["w"].device.type == "cuda"    # the location the checkpoint records


@pytest.mark.parametrize("module,name", [("os", "system"), ("posix", "system"), ("builtins", "eval"),
                                         ("builtins", "exec"), ("subprocess", "call"), ("torch", "load")])
def test_pytorch_zip_refuses_other_globals(tmp_path, module, name):
    marker = tmp_path / "ran"
    cmd = f"open({str(marker)!r}, 'w')" if name in ("eval", "exec") else f"touch {marker}"
    payload = _Call(module, name, [cmd] if name == "call" else cmd)
    for obj in [payload, {"ok": 1, "evil": payload}]:
        with pytest.raises(pickle.UnpicklingError, match=rf"'{module}\.{name}'.*not allowed"):
            ttorch.load(torch_zip(obj, []))
    assert not marker.exists()


class _WithState(_Call):
    def __init__(self, state, module, name, *args):
        super().__init__(module, name, *args)
        self.state = state

    def __reduce_ex__(self, proto):
        return self.g, self.args, self.state


def test_pytorch_zip_refuses_patching_objects():
    for state in [{"type": "evil"}, (None, {"index": 5})]:
        with pytest.raises(pickle.UnpicklingError, match="only an OrderedDict"):
            ttorch.load(torch_zip(_WithState(state, "torch", "device", "cpu"), []))
    assert ttorch.device("cpu").type == "cpu" and ttorch.device("cpu").index is None


def torch_legacy(obj, storages, little=True):
    buf = io.BytesIO()
    for x in [0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": little,
                                              "type_sizes": {"short": 2, "int": 4, "long": 4}}]:
        pickle.dump(x, buf, protocol=2)
    _TorchPickler(buf, protocol=2).dump(obj)
    pickle.dump(sorted(s.key for s in storages), buf, protocol=2)
    for s in sorted(storages, key=lambda s: s.key):
        buf.write(struct.pack("<q" if little else ">q", s.array.size))
        buf.write((s.array if little else s.array.byteswap()).tobytes())
    return io.BytesIO(buf.getvalue())


def test_pytorch_legacy_checkpoint():
    s_w = _Storage("140", "FloatStorage", np.arange(10, dtype=np.float32))
    s_h = _Storage("7", "HalfStorage", np.array([0.5, -1.0], np.float16), "cuda:0")
    sd = collections.OrderedDict([("w", _Param(_Tensor(s_w, 1, (3, 2), (1, 3)))), ("h", _Tensor(s_h, 0, (2,), (1,))),
                                  ("t", (_Tensor(s_w, 9, (), ()), 5))])
    for little in [True, False]:
        out = ttorch.load(torch_legacy({"sd": sd, "n": 1}, [s_w, s_h], little), map_location="cpu")
        assert isinstance(out["sd"]["w"], nn.Parameter) and out["n"] == 1
        np.testing.assert_array_equal(host(out["sd"]["w"]), np.arange(1, 7, dtype=np.float32).reshape(2, 3).T)
        assert out["sd"]["h"].dtype is ttorch.float16 and out["sd"]["h"].tolist() == [0.5, -1.0]
        assert out["sd"]["t"][0].item() == 9.0 and out["sd"]["t"][1] == 5


def test_bare_pickles_refused(tmp_path):
    with pytest.raises(pickle.UnpicklingError, match="bare pickle"):
        ttorch.load(io.BytesIO(pickle.dumps({"a": 1}, protocol=2)))
    marker = tmp_path / "ran"
    for exploit in [_Exploit(os.system, f"touch {marker}"), _Exploit(eval, f"open({str(marker)!r}, 'w')")]:
        for proto in [2, pickle.HIGHEST_PROTOCOL]:
            with pytest.raises(pickle.UnpicklingError, match=r"'(posix\.system|builtins\.eval)'.*not allowed"):
                ttorch.load(io.BytesIO(pickle.dumps(exploit, protocol=proto)))
    assert not marker.exists()


class _Exploit:
    """The classic malicious pickle: unpickling it calls ``func(arg)``."""

    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


def test_pytorch_zip_rejects_bad_geometry():
    s = _Storage("0", "FloatStorage", np.zeros(4, np.float32))
    with pytest.raises(pickle.UnpicklingError, match="past its storage"):
        ttorch.load(torch_zip(_Tensor(s, 2, (3,), (1,)), [s]))
    with pytest.raises(pickle.UnpicklingError, match="data.pkl"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("x.txt", "hi")
        ttorch.load(io.BytesIO(buf.getvalue()))


def test_safe_globals_admit_trusted_classes():
    import argparse
    s = _Storage("0", "FloatStorage", np.ones(2, np.float32))
    ckpt = torch_zip({"args": argparse.Namespace(lr=0.1, name="x"), "w": _Tensor(s, 0, (2,), (1,))}, [s]).getvalue()
    with pytest.raises(pickle.UnpicklingError, match=r"'argparse\.Namespace'.*add_safe_globals"):
        ttorch.load(io.BytesIO(ckpt))
    with ttorch.serialization.safe_globals([argparse.Namespace]):
        out = ttorch.load(io.BytesIO(ckpt))
    assert out["args"].lr == 0.1 and out["args"].name == "x" and out["w"].tolist() == [1.0, 1.0]
    assert ttorch.serialization.get_safe_globals() == []
    ttorch.serialization.add_safe_globals([(argparse.Namespace, "argparse.Namespace")])
    try:
        assert ttorch.load(io.BytesIO(ckpt))["args"].lr == 0.1
    finally:
        ttorch.serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        ttorch.load(io.BytesIO(ckpt))
