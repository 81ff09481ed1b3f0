"""ttorch.save / ttorch.load: round trips of every supported kind, map_location, safetensors interop and
atomic writes (PyTorch checkpoints: test_serialization_torch.py)."""
import collections
import io
import json
import math
import os
import pathlib
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import time

import ml_dtypes
import numpy as np
import pytest

import ttorch
from ttorch import _dtype as D
from ttorch import nn


def roundtrip(obj, tmp_path=None, **kw):
    if tmp_path is None:
        buf = io.BytesIO()
        ttorch.save(obj, buf)
        buf.seek(0)
        return ttorch.load(buf, **kw)
    path = tmp_path / "obj.pt"
    ttorch.save(obj, path)
    return ttorch.load(path, **kw)


def host(t):
    return t.detach().cpu().numpy()


def same_tensor(a, b):
    assert isinstance(b, ttorch.Tensor)
    assert (a.dtype, a.device, tuple(a.shape)) == (b.dtype, b.device, tuple(b.shape))
    np.testing.assert_array_equal(host(a).reshape(-1).view(np.uint8), host(b).reshape(-1).view(np.uint8))  # bits


def values(dtype, shape):
    a = np.asarray(np.random.randn(*shape) * 5)
    if dtype is D.bool:
        return a > 0
    return (np.abs(a) if dtype is D.uint8 else a).astype(dtype.np)


# ----------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", D.all_dtypes, ids=str)
def test_tensor_every_dtype(device, dtype, tmp_path):
    for shape in [(), (0,), (0, 3), (3, 5)]:
        t = ttorch.tensor(values(dtype, shape), dtype=dtype, device=device)
        same_tensor(t, roundtrip(t))
    t = ttorch.tensor(values(dtype, (2, 3)), dtype=dtype, device=device)
    same_tensor(t, roundtrip(t, tmp_path))


def test_special_float_values(device):
    t = ttorch.tensor([math.inf, -math.inf, math.nan, -0.0, 1e-45, 3.4e38], device=device)
    same_tensor(t, roundtrip(t))


def test_non_contiguous_views(device):
    base = ttorch.arange(60.0, device=device).reshape(3, 4, 5)
    for v in [base.transpose(0, 2), base[:, 1:3, ::2], base[1], base.as_strided((2, 3), (1, 7), 4)]:
        out = roundtrip(v)
        assert out.is_contiguous() and out.device == v.device
        np.testing.assert_array_equal(host(out), host(v))


def test_requires_grad_and_parameters(device):
    p = nn.Parameter(ttorch.randn(2, 3, device=device))
    frozen = nn.Parameter(ttorch.randn(2, device=device), requires_grad=False)
    x = ttorch.randn(3, device=device).requires_grad_()
    y = x * 2                                        # a non-leaf: loads as a leaf that requires grad
    plain = ttorch.ones(2, device=device)
    out = roundtrip({"p": p, "frozen": frozen, "x": x, "y": y, "plain": plain})
    assert isinstance(out["p"], nn.Parameter) and out["p"].requires_grad
    assert isinstance(out["frozen"], nn.Parameter) and not out["frozen"].requires_grad
    assert not isinstance(out["x"], nn.Parameter) and out["x"].requires_grad and out["x"].is_leaf
    assert out["y"].requires_grad and out["y"].is_leaf
    assert not out["plain"].requires_grad and not isinstance(out["plain"], nn.Parameter)
    np.testing.assert_array_equal(host(out["p"]), host(p))
    (out["p"] * 2).sum().backward()
    np.testing.assert_array_equal(host(out["p"].grad), np.full((2, 3), 2.0, np.float32))


def test_plain_values_and_containers(tmp_path):
    obj = {
        "none": None, "bools": [True, False], "int": -7, "big": 2 ** 80, "float": 0.1, "neg0": -0.0,
        "inf": math.inf, "ninf": -math.inf, "nan": math.nan, "str": "héllo \u2603 \"q\"", "bytes": b"\x00\xffab",
        "bytearray": bytearray(b"xy"), "complex": complex(1.5, -2), "tuple": (1, (2, "3"), []), "empty": {},
        "set": {1, 2, 3}, "frozenset": frozenset({"a"}), "dtype": ttorch.bfloat16,
        "dtypes": [ttorch.int64, ttorch.bool],
        "device": ttorch.device("cuda", 1), "cpu": ttorch.device("cpu"), "size": ttorch.Size([2, 0, 3]),
        "ndarray": np.arange(6, dtype=np.int16).reshape(2, 3), "npscalar": np.float32(2.5),
        1: "int key", (2, 3): "tuple key", None: "none key", 2.5: "float key", False: "bool key",
    }
    out = roundtrip(obj, tmp_path)
    assert list(out) == list(obj)
    for k, v in obj.items():
        if k == "nan":
            assert math.isnan(out[k])
        elif isinstance(v, np.ndarray):
            assert out[k].dtype == v.dtype and np.array_equal(out[k], v)
        else:
            assert out[k] == v and type(out[k]) is type(v), k
    assert math.copysign(1, out["neg0"]) == -1
    assert out[False] == "bool key" and out[1] == "int key"


def test_ordered_dict_and_optimizer_state():
    od = collections.OrderedDict([("b", 1), ("a", ttorch.zeros(2))])
    opt_state = {"state": {0: {"step": ttorch.tensor(3.0), "exp_avg": ttorch.ones(2)}, 1: {"step": ttorch.tensor(3.0),
                                                                                         "exp_avg": ttorch.ones(3)}},
                 "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "params": [0, 1], "amsgrad": False}]}
    out = roundtrip({"od": od, "opt": opt_state})
    assert type(out["od"]) is collections.OrderedDict and list(out["od"]) == ["b", "a"]
    st = out["opt"]["state"]
    assert list(st) == [0, 1] and all(type(k) is int for k in st)
    assert st[0]["step"].shape == () and st[0]["step"].item() == 3.0
    assert out["opt"]["param_groups"] == opt_state["param_groups"]


def test_shared_tensor_kept_shared():
    t = ttorch.arange(4.0)
    out = roundtrip({"a": t, "b": [t, t], "c": t.clone()})
    assert out["a"] is out["b"][0] is out["b"][1] and out["c"] is not out["a"]
    buf = io.BytesIO()
    ttorch.save({"a": t, "b": t}, buf)
    (n,) = struct.unpack("<Q", buf.getvalue()[:8])
    header = json.loads(buf.getvalue()[8:8 + n])
    assert sorted(k for k in header if k != "__metadata__") == ["a"]      # stored once


def test_entry_names_never_collide():
    a, b, c, d = (ttorch.full((2,), float(i)) for i in range(4))
    out = roundtrip({"__metadata__": a, "x.y": b, "x": {"y": c}, "": [d]})
    assert [out["__metadata__"][0].item(), out["x.y"][0].item(), out["x"]["y"][0].item(), out[""][0][0].item()] == \
        [0.0, 1.0, 2.0, 3.0]


def test_truncated_file_and_symlink(tmp_path):
    path = tmp_path / "full.pt"
    ttorch.save({"w": ttorch.ones(100)}, path)
    data = path.read_bytes()
    with pytest.raises(pickle.UnpicklingError, match="corrupt"):
        ttorch.load(io.BytesIO(data[:-10]))
    link = tmp_path / "link.pt"
    link.symlink_to(path)
    ttorch.save({"w": ttorch.zeros(1)}, link)
    assert link.is_symlink() and ttorch.load(path)["w"].tolist() == [0.0]


def test_module_state_dict_into_module(device, tmp_path):
    ttorch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).to(device)
    sd = model.state_dict()
    ttorch.save(sd, tmp_path / "model.pth")
    loaded = ttorch.load(tmp_path / "model.pth")
    assert type(loaded) is collections.OrderedDict and list(loaded) == list(sd)
    assert loaded._metadata == sd._metadata
    ttorch.manual_seed(2)
    fresh = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).to(device)
    fresh.load_state_dict(loaded)
    x = ttorch.randn(5, 4, device=device)
    np.testing.assert_array_equal(host(fresh(x)), host(model(x)))


def test_unsupported_objects_refused(tmp_path):
    with pytest.raises(TypeError, match="state_dict"):
        ttorch.save(nn.Linear(2, 2), io.BytesIO())
    with pytest.raises(TypeError, match="cannot store an object of type"):
        ttorch.save({"f": lambda: 0}, io.BytesIO())
    path = tmp_path / "keep.pt"
    ttorch.save({"v": 1}, path)
    with pytest.raises(TypeError):
        ttorch.save([object()], path)
    assert ttorch.load(path) == {"v": 1} and os.listdir(tmp_path) == ["keep.pt"]   # no temporary file left


def test_path_forms(tmp_path):
    for p in [str(tmp_path / "a.pt"), tmp_path / "b.pt", pathlib.PurePath(tmp_path / "c.pt")]:
        ttorch.save([1, ttorch.ones(1)], p)
        assert ttorch.load(p)[0] == 1
    with open(tmp_path / "d.pt", "wb") as f:
        ttorch.save("x", f)
    with open(tmp_path / "d.pt", "rb") as f:
        assert ttorch.load(f) == "x"
    with pytest.raises(pickle.UnpicklingError, match="not a ttorch, safetensors or PyTorch"):
        ttorch.load(io.BytesIO(b"hello world, not a checkpoint"))


# ----------------------------------------------------------------------------------- map_location
def test_map_location(device):
    t = ttorch.arange(3.0, device=device)
    buf = io.BytesIO()
    ttorch.save({"t": t}, buf)

    def load(ml):
        buf.seek(0)
        return ttorch.load(buf, map_location=ml)["t"]
    assert load(None).device == t.device
    assert load("cpu").device.type == "cpu"
    assert load(ttorch.device("cpu")).device.type == "cpu"
    assert load({str(t.device): "cpu"}).device.type == "cpu"
    assert load({"cuda:7": "cpu"}).device == t.device                # not mapped: where it was saved
    assert load(lambda storage, loc: storage).device.type == "cpu"
    assert load(lambda storage, loc: None).device == t.device
    seen = []
    load(lambda storage, loc: seen.append((loc, storage.nbytes())))
    assert seen == [(str(t.device), 12)]
    if ttorch.cuda.is_available():
        assert load("cuda").device.type == "cuda"
        assert load(lambda storage, loc: storage.cuda()).device.type == "cuda"
        assert load({"cpu": "cuda:0"}).device == ttorch.device("cuda", 0)
    with pytest.raises(ValueError, match="map_location"):
        load(3)


def test_cuda_checkpoint_without_cuda(monkeypatch):
    from safetensors import numpy as st_np
    buf = io.BytesIO()
    ttorch.save(ttorch.ones(2), buf)
    (n,) = struct.unpack("<Q", buf.getvalue()[:8])
    meta = json.loads(buf.getvalue()[8:8 + n])["__metadata__"]
    meta["ttorch"] = meta["ttorch"].replace('"device": "cpu"', '"device": "cuda:0"')
    raw = st_np.save({"tensor": np.ones(2, np.float32)}, metadata=meta)      # as saved from cuda:0
    monkeypatch.setattr(ttorch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="map_location"):
        ttorch.load(io.BytesIO(raw))
    assert ttorch.load(io.BytesIO(raw), map_location="cpu").device.type == "cpu"


# ----------------------------------------------------------------------------------- safetensors interop
def test_files_are_safetensors():
    from safetensors import numpy as st_np
    sd = collections.OrderedDict(fc_w=ttorch.ones(2, 3), half=ttorch.zeros(2, dtype=ttorch.float16))
    buf = io.BytesIO()
    ttorch.save({"model": sd, "step": 3}, buf)
    other = st_np.load(buf.getvalue())                 # another tool reads the tensors by their names
    assert sorted(other) == ["model.fc_w", "model.half"]
    np.testing.assert_array_equal(other["model.fc_w"], np.ones((2, 3), np.float32))
    assert other["model.half"].dtype == np.float16
    # bfloat16: safetensors' NumPy API writes BF16 but cannot read it; check the header and bytes directly
    buf = io.BytesIO()
    ttorch.save({"bf": ttorch.tensor([1.5, -2.0], dtype=ttorch.bfloat16)}, buf)
    data = buf.getvalue()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    assert header["bf"]["dtype"] == "BF16" and header["bf"]["shape"] == [2]
    assert header["__metadata__"]["format"] == "pt"
    start, end = header["bf"]["data_offsets"]
    raw = np.frombuffer(data[8 + n + start:8 + n + end], dtype=ml_dtypes.bfloat16)
    np.testing.assert_array_equal(raw.astype(np.float32), [1.5, -2.0])


def test_load_file_written_by_safetensors(tmp_path):
    from safetensors import numpy as st_np
    arrays = {"w": np.random.randn(3, 4).astype(np.float32), "i": np.arange(5, dtype=np.int64),
              "m": np.array([True, False]), "h": np.ones(2, np.float16), "s": np.array(2.0),
              "bf": np.array([0.5, 3.0], dtype=ml_dtypes.bfloat16)}
    st_np.save_file(arrays, tmp_path / "x.safetensors")
    out = ttorch.load(tmp_path / "x.safetensors")
    assert set(out) == set(arrays)
    for k, a in arrays.items():
        assert out[k].dtype.np == a.dtype and tuple(out[k].shape) == a.shape
        np.testing.assert_array_equal(host(out[k]).reshape(-1).view(np.uint8), a.reshape(-1).view(np.uint8))
    if ttorch.cuda.is_available():
        assert ttorch.load(tmp_path / "x.safetensors", map_location="cuda")["w"].device.type == "cuda"
    st_np.save_file({"u": np.arange(2, dtype=np.uint32)}, tmp_path / "u.safetensors")     # (uint32: since ttorch has it)
    u = ttorch.load(tmp_path / "u.safetensors")["u"]
    assert u.dtype is ttorch.uint32 and u.tolist() == [0, 1]


# ----------------------------------------------------------------------------------- atomic writes
_WRITER = textwrap.dedent("""
    import os, sys, time
    import safetensors.numpy
    import ttorch
    path, mode = sys.argv[1], sys.argv[2]
    N = 1 << 20
    ttorch.save({"i": 1, "v": ttorch.full((N,), 1.0)}, path)
    print("saved", flush=True)
    if mode == "write":            # stop half way through writing the temporary file
        def partial(arrays, filename, metadata=None):
            with open(filename, "wb") as f:
                f.write(b"\\x00" * 1000)
            print("writing", flush=True)
            time.sleep(60)
        safetensors.numpy.save_file = partial
    elif mode == "replace":        # stop with the new file complete but not yet renamed
        def slow(*a):
            print("writing", flush=True)
            time.sleep(60)
        os.replace = slow
    i = 2
    while True:
        ttorch.save({"i": i, "v": ttorch.full((N,), float(i))}, path)
        if i == 2:
            print("writing", flush=True)
        i += 1
""")


@pytest.mark.parametrize("mode", ["write", "replace", "loop"])
def test_writer_killed_mid_save(tmp_path, mode):
    path = tmp_path / "ckpt.pt"
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), mode], stdout=subprocess.PIPE, text=True,
                                stderr=err, env=dict(os.environ, TRITON_INTERPRET="1"))
    try:
        lines = [proc.stdout.readline().strip(), proc.stdout.readline().strip()]
        assert lines == ["saved", "writing"], (tmp_path / "stderr.txt").read_text()
        if mode == "loop":
            time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    os.unlink(tmp_path / "stderr.txt")
    out = ttorch.load(path)
    if mode != "loop":
        assert out["i"] == 1
        assert any(name.endswith(".tmp") for name in os.listdir(tmp_path))   # the killed writer's leftover
    assert out["i"] >= 1 and bool((out["v"] == float(out["i"])).all())
    ttorch.save({"i": 0}, path)                                           # leftovers do not get in the way
    assert ttorch.load(path) == {"i": 0}
