"""Packed sequences: packing and unpacking (orders, batch_first, total_length, errors), and the recurrent
layers on a PackedSequence against each sequence run alone, bidirectional and stacked, on both devices."""
import numpy as np
import pytest

import ttorch
import ttorch.nn as nn
from ttorch.nn.utils.rnn import (PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                 unpack_sequence)


def npy(t):
    return t.detach().cpu().numpy()


def test_pack_and_pad_round_trip(device):
    r = np.random.default_rng(0)
    lengths = [3, 5, 1, 4]
    x = ttorch.tensor(r.standard_normal((4, 5, 2)), device=device)                  # (B, T, *)
    p = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    assert p.batch_sizes.tolist() == [4, 3, 3, 2, 1] and p.batch_sizes.device.type == "cpu"
    assert p.sorted_indices.tolist() == [1, 3, 0, 2] and p.unsorted_indices.tolist() == [2, 0, 3, 1]
    assert p.data.shape == (13, 2) and p.is_cuda == (device == "cuda")
    np.testing.assert_array_equal(npy(p.data[:4]), npy(x[[1, 3, 0, 2], 0]))          # step 0, longest first
    y, n = pad_packed_sequence(p, batch_first=True, padding_value=-1.0, total_length=6)
    assert n.tolist() == lengths and y.shape == (4, 6, 2)
    for i, k in enumerate(lengths):
        np.testing.assert_array_equal(npy(y[i, :k]), npy(x[i, :k]))
        assert (npy(y[i, k:]) == -1).all()
    seqs = [x[i, :k] for i, k in enumerate(lengths)]
    for a, b in zip(unpack_sequence(pack_sequence(seqs, enforce_sorted=False)), seqs):
        np.testing.assert_array_equal(npy(a), npy(b))
    q = pack_padded_sequence(x.transpose(0, 1)[:, [1, 3, 0, 2]], [5, 4, 3, 1])        # sorted, time-major
    assert q.sorted_indices is None and q.batch_sizes.tolist() == p.batch_sizes.tolist()
    with pytest.raises(RuntimeError, match="must be sorted in decreasing order when `enforce_sorted` is True"):
        pack_padded_sequence(x, lengths, batch_first=True)
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        pack_padded_sequence(x, [3, 0, 1, 1], batch_first=True, enforce_sorted=False)
    with pytest.raises(ValueError, match="Expected total_length to be at least"):
        pad_packed_sequence(p, total_length=3)
    assert isinstance(p.to(ttorch.float32), PackedSequence) and p.to(ttorch.float32).data.dtype is ttorch.float32


@pytest.mark.parametrize("cls,kw", [(nn.LSTM, dict(num_layers=2, bidirectional=True)),
                                    (nn.GRU, dict(bidirectional=True)), (nn.RNN, dict(num_layers=2)),
                                    (nn.LSTM, dict(proj_size=2, batch_first=True))])
def test_recurrent_layers_on_packed_sequences(cls, kw):
    """Each sequence of the packed batch gives what it gives alone (its own length, no padding); the
    simulated cuda device gives what cpu gives."""
    ttorch.manual_seed(0)
    m = cls(3, 4, **kw).double()
    lengths = [3, 5, 1, 4]
    bf = kw.get("batch_first", False)
    x0 = ttorch.randn(4, 5, 3, dtype=ttorch.float64)                              # (B, T, H)

    def run(model, device):
        x = x0.detach().to(device).clone().requires_grad_()
        out, h = model(pack_padded_sequence(x if bf else x.transpose(0, 1), lengths, batch_first=bf,
                                            enforce_sorted=False))
        padded, _ = pad_packed_sequence(out, batch_first=True)
        hs = h if isinstance(h, tuple) else (h,)
        (padded.square().sum() + sum(t.sum() for t in hs)).backward()
        return x, padded, hs
    x, padded, hs = run(m, "cpu")
    for i, k in enumerate(lengths):
        seq = x0[i:i + 1, :k] if bf else x0[i:i + 1, :k].transpose(0, 1)
        o1, h1 = m(seq)
        o1 = o1[0] if bf else o1[:, 0]
        np.testing.assert_allclose(npy(padded[i, :k]), npy(o1), rtol=1e-10, atol=1e-12)
        assert (npy(padded[i, k:]) == 0).all()
        for a, b in zip(hs, h1 if isinstance(h1, tuple) else (h1,)):
            np.testing.assert_allclose(npy(a[:, i]), npy(b[:, 0]), rtol=1e-10, atol=1e-12)
    assert (npy(x.grad)[2, 1:] == 0).all()                                     # past a length: no gradient
    if ttorch.cuda.is_available():
        mc = cls(3, 4, **kw).double().to("cuda")
        mc.load_state_dict(m.state_dict())
        xc, pc, hc = run(mc, "cuda")
        for a, b in zip((pc, xc.grad) + hc, (padded, x.grad) + hs):
            np.testing.assert_allclose(npy(a), npy(b), rtol=1e-9, atol=1e-11)
