"""ttorch.utils.tensorboard: event files read back by a TFRecord/protobuf/PNG reader written here.

The reader checks each record's masked CRC-32C with a bitwise CRC (independent of the table-driven one
under test), decodes the protobuf wire format generically, and decodes PNGs with zlib.
"""
import glob
import os
import struct
import zlib

import numpy as np
import pytest

import ttorch
from ttorch.utils.tensorboard import SummaryWriter
from ttorch.utils.tensorboard._crc32c import crc32c, masked_crc32c


# ---- an independent reader ------------------------------------------------------------------------
def _crc32c_bitwise(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _masked(data):
    crc = _crc32c_bitwise(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    blob, pos, out = open(path, "rb").read(), 0, []
    while pos < len(blob):
        header = blob[pos:pos + 8]
        (n,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", blob[pos + 8:pos + 12])[0] == _masked(header)
        data = blob[pos + 12:pos + 12 + n]
        assert struct.unpack("<I", blob[pos + 12 + n:pos + 16 + n])[0] == _masked(data)
        out.append(data)
        pos += 16 + n
    return out


def _varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        result |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if not b & 0x80:
            return result, pos


def decode(buf):
    """Protobuf wire format -> {field: [raw values]} (varints as ints, fixed as bytes, LEN as bytes)."""
    fields, pos = {}, 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            assert wire == 2
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        fields.setdefault(field, []).append(value)
    return fields


def f64(b):
    return struct.unpack("<d", b)[0]


def packed_f64(b):
    return np.frombuffer(b, "<f8")


def events(logdir):
    (path,) = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    return [decode(r) for r in read_records(path)]


def values(logdir):
    """(step, wall_time, Summary.Value fields) of every summary event, first file event excluded."""
    out = []
    for ev in events(logdir)[1:]:
        step = ev.get(2, [0])[0]
        step = step - (1 << 64) if step >= 1 << 63 else step
        for v in decode(ev[5][0])[1]:
            out.append((step, f64(ev[1][0]), decode(v)))
    return out


def decode_png(png):
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", png[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(kind + data)
        chunks[kind] = chunks.get(kind, b"") + data
        pos += 12 + n
    w, h, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8
    c = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * c)
    assert (rows[:, 0] == 0).all()          # filter type None on every scanline
    return rows[:, 1:].reshape(h, w, c)


# ---- tests ----------------------------------------------------------------------------------------
def test_crc32c_known_values_and_long_buffers():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(b"3456789", crc32c(b"12")) == 0xE3069283
    rng = np.random.default_rng(0)
    for n in (16384, 20011):                 # the NumPy lane path, with a ragged tail
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == _crc32c_bitwise(data)
        assert masked_crc32c(data) == _masked(data)


def test_scalars_from_tensors_arrays_and_numbers(tmp_path, device):
    with SummaryWriter(str(tmp_path), filename_suffix=".sfx") as w:
        w.add_scalar("loss", ttorch.tensor(0.25, device=device), 3, walltime=100.5)
        w.add_scalar("loss", ttorch.tensor([1.5], dtype=ttorch.float64, device=device), 4, walltime=101.0)
        w.add_scalar("acc", np.float32(0.1), -2, walltime=7.0)
        w.add_scalar("n", 5)
        w.add_scalar("bf", ttorch.tensor(1.0 / 3, dtype=ttorch.bfloat16, device=device), 0, walltime=1.0)
        with pytest.raises(AssertionError, match="one element"):
            w.add_scalar("bad", np.ones(3))
    (path,) = glob.glob(str(tmp_path / "events.out.tfevents.*"))
    assert path.endswith(".sfx") and f".{os.getpid()}." in path
    first = events(str(tmp_path))[0]
    assert first[3] == [b"brain.Event:2"]
    got = [(s, t, v[1][0].decode(), struct.unpack("<f", v[2][0])[0]) for s, t, v in values(str(tmp_path))]
    f32 = lambda x: float(np.float32(x))   # noqa: E731  simple_value is a float32
    assert got[:3] == [(3, 100.5, "loss", 0.25), (4, 101.0, "loss", 1.5), (-2, 7.0, "acc", f32(0.1))]
    assert got[3][0] == 0 and got[3][2:] == ("n", 5.0)
    assert got[4][3] == 0.333984375                    # 1/3 rounded to bfloat16 (exact in float16)


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_scalars("run/a", {"x": 1.0, "y": ttorch.tensor(2.0)}, 5, walltime=3.0)
        w.add_scalars("run/a", {"x": 4.0}, 6, walltime=3.0)
    for tag, expect in (("x", [(5, 1.0), (6, 4.0)]), ("y", [(5, 2.0)])):
        vals = values(str(tmp_path / f"run_a_{tag}"))
        assert [(s, struct.unpack("<f", v[2][0])[0]) for s, _, v in vals] == expect
        assert all(v[1][0] == b"run/a" for _, _, v in vals)


def _histo(v):
    h = decode(v[5][0])
    return {k: f64(h[i][0]) if i in h else 0.0 for i, k in enumerate(["min", "max", "num", "sum", "ssq"], 1)}, \
        packed_f64(h[6][0]), packed_f64(h[7][0])


def test_histogram_hand_computed_and_default_bins(tmp_path):
    x = np.random.default_rng(1).standard_normal(257) * 3
    with SummaryWriter(str(tmp_path)) as w:
        w.add_histogram("hand", np.array([0.5, 1.5, 1.5, 3.5]), 1, bins=[0, 1, 2, 3, 4])
        w.add_histogram("tf", ttorch.tensor(x.astype(np.float32)), 2)
    (_, _, hand), (_, _, tf) = values(str(tmp_path))
    stats, limits, counts = _histo(hand)
    # an empty bucket on the left carries the leftmost limit
    assert limits.tolist() == [0, 1, 2, 3, 4] and counts.tolist() == [0, 1, 2, 0, 1]
    assert stats == {"min": 0.5, "max": 3.5, "num": 4, "sum": 7.0, "ssq": 0.25 + 2.25 * 2 + 12.25}
    stats, limits, counts = _histo(tf)
    x32 = x.astype(np.float32).astype(np.float64)
    assert stats["num"] == 257 and stats["min"] == x32.min() and stats["max"] == x32.max()
    np.testing.assert_allclose([stats["sum"], stats["ssq"]], [x32.sum(), x32 @ x32], rtol=1e-12)
    assert counts.sum() == 257 and counts[0] == 0 and (np.diff(limits) > 0).all()
    # bucket i holds [limit[i-1], limit[i]); limits are TensorBoard's +-1e-12 * 1.1**k
    expect = np.histogram(x32, bins=limits)[0]
    np.testing.assert_array_equal(counts[1:], expect)
    pos = limits[limits > 0]
    np.testing.assert_allclose(pos[1:] / pos[:-1], 1.1, rtol=1e-9)


def test_histogram_numpy_bin_strings_and_raw(tmp_path):
    x = np.random.default_rng(2).random(100)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_histogram("auto", ttorch.tensor(x), 0, bins="auto")
        w.add_histogram_raw("raw", 0, 3, 4, 5, 9, [1.0, 2.0, 3.0], [1, 2, 1], 1)
        with pytest.raises(ValueError, match="no element"):
            w.add_histogram("empty", np.zeros(0))
    (_, _, auto), (_, _, raw) = values(str(tmp_path))
    counts, edges = np.histogram(x, bins="auto")
    _, limits, got = _histo(auto)
    np.testing.assert_array_equal(limits, edges)
    np.testing.assert_array_equal(got, [0] + counts.tolist())
    stats, limits, got = _histo(raw)
    assert stats == {"min": 0, "max": 3, "num": 4, "sum": 5, "ssq": 9}
    assert limits.tolist() == [1, 2, 3] and got.tolist() == [1, 2, 1]


def _image(v):
    img = decode(v[4][0])
    return img[1][0], img[2][0], img[3][0], decode_png(img[4][0])


def test_images_layouts_and_scaling(tmp_path, device):
    rng = np.random.default_rng(3)
    chw = rng.random((3, 5, 7)) * 1.2 - 0.1                  # out-of-range values are clipped
    u8 = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    batch = rng.random((3, 1, 2, 4)).astype(np.float32)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_image("chw", ttorch.tensor(chw, device=device), 0)
        w.add_image("hwc", u8, 0, dataformats="HWC")
        w.add_image("hw", chw[0], 0, dataformats="HW")
        w.add_images("batch", ttorch.tensor(batch), 0)
        w.add_image("rgba", np.ones((2, 3, 4)), 0, dataformats="HWC")
    got = {v[1][0].decode(): _image(v) for _, _, v in values(str(tmp_path))}
    to8 = lambda a: (a.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)   # noqa: E731
    h, w_, c, px = got["chw"]
    assert (h, w_, c) == (5, 7, 3)
    np.testing.assert_array_equal(px, to8(chw.transpose(1, 2, 0)))
    np.testing.assert_array_equal(got["hwc"][3], u8)
    np.testing.assert_array_equal(got["hw"][3], np.repeat(to8(chw[0])[:, :, None], 3, 2))
    # 3 images of 2x4 tile into one row; the single channel becomes gray RGB
    grid = np.concatenate([np.repeat(to8(b[0])[:, :, None], 3, 2) for b in batch], axis=1)
    assert got["batch"][:3] == (2, 12, 3)
    np.testing.assert_array_equal(got["batch"][3], grid)
    assert got["rgba"][2] == 4 and (got["rgba"][3] == 255).all()


def test_text_tensor_and_pr_curve(tmp_path):
    labels, preds = np.array([1, 0, 1, 1, 0]), np.array([0.9, 0.8, 0.3, 0.6, 0.1])
    with SummaryWriter(str(tmp_path)) as w:
        w.add_text("notes", "héllo *md*", 4)
        w.add_tensor("t", ttorch.tensor([[1, -2, 3]], dtype=ttorch.int64), 1)
        w.add_pr_curve("pr", ttorch.tensor(labels), preds, 2, num_thresholds=3)
    (s0, _, txt), (_, _, ten), (_, _, pr) = values(str(tmp_path))
    assert s0 == 4 and txt[1] == [b"notes/text_summary"]
    assert decode(decode(txt[9][0])[1][0])[1] == [b"text"]
    t = decode(txt[8][0])
    assert t[1] == [7] and t[8] == ["héllo *md*".encode()] and decode(decode(t[2][0])[2][0]) == {1: [1]}
    t = decode(ten[8][0])
    assert t[1] == [9] and [decode(d)[1][0] for d in decode(t[2][0])[2]] == [1, 3]
    assert [v - (1 << 64) if v >= 1 << 63 else v for v in _packed_varints(t[10][0])] == [1, -2, 3]
    t = decode(pr[8][0])
    data = np.frombuffer(t[5][0], "<f4").reshape(6, 3)
    # thresholds 0, 0.5, 1: predictions bucket to floor(p * 2)
    tp, fp = np.array([3, 2, 0]), np.array([2, 1, 0])
    prec = tp / np.maximum(1e-7, tp + fp)
    np.testing.assert_allclose(data, np.stack([tp, fp, 2 - fp, 3 - tp, prec, tp / 3.0]), rtol=1e-6)
    assert decode(decode(decode(pr[9][0])[1][0])[2][0]) == {2: [3]}


def test_hparams_run(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_hparams({"lr": 0.1, "opt": "adam", "skip": None}, {"hp/acc": 0.75}, run_name="r1", global_step=3)
        with pytest.raises(TypeError, match="should be dictionary"):
            w.add_hparams([("lr", 1)], {})
    vals = values(str(tmp_path / "r1"))
    assert [v[1][0] for _, _, v in vals] == [b"_hparams_/experiment", b"_hparams_/session_start_info",
                                             b"_hparams_/session_end_info", b"hp/acc"]
    assert all(s == 3 for s, _, _ in vals)
    plugin = [decode(decode(decode(v[9][0])[1][0])[2][0]) for _, _, v in vals[:3]]
    exp = decode(plugin[0][2][0])
    infos = [decode(h) for h in exp[4]]
    assert [(i[1][0], i[4][0]) for i in infos] == [(b"lr", 3), (b"opt", 1)]      # FLOAT64, STRING
    assert decode(decode(exp[5][0])[1][0])[2] == [b"hp/acc"]
    entries = [decode(e) for e in decode(plugin[1][3][0])[1]]
    assert entries[0][1] == [b"lr"] and f64(decode(entries[0][2][0])[2][0]) == 0.1
    assert entries[1][1] == [b"opt"] and decode(entries[1][2][0])[3] == [b"adam"]
    assert decode(plugin[2][4][0]) == {1: [1]}                                     # STATUS_SUCCESS
    assert struct.unpack("<f", vals[3][2][2][0])[0] == 0.75


def test_flush_close_reopen_purge_and_default_logdir(tmp_path, monkeypatch):
    w = SummaryWriter(str(tmp_path / "a"), purge_step=7, flush_secs=1000)
    w.add_scalar("x", 1.0, 8)
    w.flush()                                   # on disk before close
    evs = events(str(tmp_path / "a"))
    assert evs[1][2] == [7] and evs[1][3] == [b"brain.Event:2"]
    assert evs[2][2] == [7] and decode(evs[2][7][0]) == {1: [1]}                # SessionLog START
    assert len(evs) == 4
    w.close()
    w.close()
    w.add_scalar("x", 2.0, 9)                   # reopens a new event file
    w.close()
    assert len(glob.glob(str(tmp_path / "a" / "events.out.tfevents.*"))) == 2
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as w:
        logdir = w.get_logdir()
    assert logdir.startswith("runs" + os.sep) and logdir.endswith("_lr0.1") and os.path.isdir(logdir)
    with SummaryWriter(str(tmp_path / "b")) as w, pytest.raises(NotImplementedError, match="add_graph"):
        w.add_graph(ttorch.nn.Linear(2, 2), ttorch.ones(1, 2))


def test_embedding_files(tmp_path):
    mat, imgs = np.arange(6.0).reshape(3, 2), np.ones((3, 3, 2, 2))
    with SummaryWriter(str(tmp_path)) as w:
        w.add_embedding(ttorch.tensor(mat), metadata=["a", "b", "c"], label_img=ttorch.tensor(imgs), tag="e/1")
    sub = tmp_path / "00000" / "e%2f1"
    assert (sub / "tensors.tsv").read_text() == "0.0\t1.0\n2.0\t3.0\n4.0\t5.0\n"
    assert (sub / "metadata.tsv").read_text() == "a\nb\nc\n"
    sprite = decode_png((sub / "sprite.png").read_bytes())
    assert sprite.shape == (4, 4, 3) and (sprite[:2] == 255).all() and (sprite[2:, :2] == 255).all()
    assert (sprite[2:, 2:] == 0).all()
    cfg = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "e/1:00000"' in cfg and "single_image_dim: 2" in cfg


def test_add_figure(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure(figsize=(1, 0.5), dpi=20)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_figure("fig", fig, 0)
    (_, _, v), = values(str(tmp_path))
    h, w_, c, px = _image(v)
    assert (h, w_, c) == (10, 20, 3) and px.shape == (10, 20, 3) and (px == 255).all()     # a blank white figure


def test_audio_and_custom_scalars(tmp_path):
    import io
    import wave
    snd = np.linspace(-1.5, 1.5, 31)
    with SummaryWriter(str(tmp_path)) as w:
        w.add_audio("snd", ttorch.tensor(snd), 0, sample_rate=8000)
        w.add_custom_scalars({"cat": {"m": ["Multiline", ["a", "b"]], "g": ["Margin", ["v", "lo", "hi"]]}})
    (_, _, au), (_, _, cs) = values(str(tmp_path))
    a = decode(au[6][0])
    assert struct.unpack("<f", a[1][0])[0] == 8000 and a[2] == [1] and a[3] == [31] and a[5] == [b"audio/wav"]
    with wave.open(io.BytesIO(a[4][0])) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (1, 2, 8000)
        pcm = np.frombuffer(f.readframes(31), "<i2")
    np.testing.assert_array_equal(pcm, (snd.clip(-1, 1) * 32767).astype(np.int16))
    assert cs[1] == [b"custom_scalars__config__"]
    layout = decode(decode(cs[8][0])[8][0])
    category = decode(layout[2][0])
    multi, margin = (decode(c) for c in category[2])
    assert category[1] == [b"cat"] and multi[1] == [b"m"] and decode(multi[2][0])[1] == [b"a", b"b"]
    assert margin[1] == [b"g"] and decode(decode(margin[3][0])[1][0]) == {1: [b"v"], 2: [b"lo"], 3: [b"hi"]}


def test_docstring_example():
    import doctest
    from ttorch.utils.tensorboard import writer
    res = doctest.testmod(writer, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


def _packed_varints(buf):
    out, pos = [], 0
    while pos < len(buf):
        v, pos = _varint(buf, pos)
        out.append(v)
    return out


def test_tensor_half_types_hold_16_bit_patterns(tmp_path):
    x = np.array([1.5, -2.25, 65504.0])
    with SummaryWriter(str(tmp_path)) as w:
        w.add_tensor("h", ttorch.tensor(x, dtype=ttorch.float16), 0)
        w.add_tensor("b", ttorch.tensor(x, dtype=ttorch.bfloat16), 0)
        w.add_tensor("u", ttorch.tensor([1, 255], dtype=ttorch.uint8), 0)
    (_, _, h), (_, _, b), (_, _, u) = values(str(tmp_path))
    th, tb, tu = decode(h[8][0]), decode(b[8][0]), decode(u[8][0])
    assert th[1] == [19] and tb[1] == [14] and tu[1] == [4]          # DT_HALF, DT_BFLOAT16, DT_UINT8
    assert _packed_varints(th[13][0]) == x.astype(np.float16).view(np.uint16).tolist()
    # bfloat16 is the top half of float32 (1.5, -2.25 exact; 65504 rounds to 65536)
    bits = np.array(_packed_varints(tb[13][0]), np.uint32) << 16
    np.testing.assert_array_equal(bits.view(np.float32), [1.5, -2.25, 65536.0])
    assert _packed_varints(tu[7][0]) == [1, 255]                     # int_val, which TensorBoard reads


def test_background_flush_and_writer_errors(tmp_path):
    import time
    w = SummaryWriter(str(tmp_path), flush_secs=0.05)
    w.add_scalar("x", 1.0, 1)
    deadline = time.time() + 5
    while len(events(str(tmp_path))) < 2 and time.time() < deadline:     # no flush(): the thread flushes
        time.sleep(0.02)
    assert len(events(str(tmp_path))) == 2
    # a failure on the writer thread surfaces in the caller's next call
    w.file_writer.event_writer._record_writer._writer.close()
    with pytest.raises(ValueError, match="closed file"):
        w.add_scalar("x", 2.0, 2)
        w.flush()
