"""ttorch.utils.data: collation, datasets, samplers and the DataLoader, in the main process and in
worker processes (started with 'fork' throughout: quick, and the test datasets need no pickling)."""
import collections
import doctest
import gc
import random

import numpy as np
import pytest

import ttorch
from ttorch.utils import data as D
from ttorch.utils.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                               RandomSampler, SequentialSampler, StackDataset, Subset, SubsetRandomSampler,
                               TensorDataset, WeightedRandomSampler, default_collate, default_convert,
                               get_worker_info, random_split)

CTX = "fork"
Point = collections.namedtuple("Point", ["x", "y"])


def _eq(a, b):
    """Structural equality of batches: same types, same tensor dtypes and values."""
    if isinstance(a, ttorch.Tensor):
        return isinstance(b, ttorch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and a.tolist() == b.tolist()
    if isinstance(a, dict):
        return type(a) is type(b) and a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_eq(x, y) for x, y in zip(a, b))
    return a == b


# ------------------------------------------------------------------------------------------ collation
def test_collate_tensors_numbers_arrays_strings():
    out = default_collate([ttorch.tensor([1.0, 2.0]), ttorch.tensor([3.0, 4.0])])
    assert _eq(out, ttorch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert _eq(default_collate([1, 2, 3]), ttorch.tensor([1, 2, 3]))
    assert default_collate([1, 2]).dtype == ttorch.int64
    assert default_collate([0.5, 1.5]).dtype == ttorch.float64      # Python floats are doubles
    assert default_collate([True, False]).dtype == ttorch.bool
    arr = default_collate([np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)])
    assert arr.dtype == ttorch.float32 and arr.shape == (2, 2, 3) and arr[1].tolist() == [[1.0] * 3] * 2
    sc = default_collate([np.float32(1.5), np.float32(2.5)])
    assert sc.dtype == ttorch.float32 and sc.tolist() == [1.5, 2.5]
    assert default_collate([np.int16(3), np.int16(4)]).dtype == ttorch.int16
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert default_collate([b"a", b"b"]) == [b"a", b"b"]


def test_collate_containers():
    batch = [{"img": ttorch.zeros(2), "label": 1, "meta": {"name": "a", "w": 0.5}},
             {"img": ttorch.ones(2), "label": 0, "meta": {"name": "b", "w": 1.5}}]
    out = default_collate(batch)
    assert _eq(out, {"img": ttorch.tensor([[0.0, 0.0], [1.0, 1.0]]), "label": ttorch.tensor([1, 0]),
                     "meta": {"name": ["a", "b"], "w": ttorch.tensor([0.5, 1.5], dtype=ttorch.float64)}})
    od = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert type(od) is collections.OrderedDict and od["a"].tolist() == [1, 2]
    nt = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert type(nt) is Point and nt.x.tolist() == [1, 3] and nt.y.dtype == ttorch.float64
    tup = default_collate([(1, "a"), (2, "b")])           # tuples come back as lists (PyTorch)
    assert type(tup) is list and tup[0].tolist() == [1, 2] and tup[1] == ["a", "b"]
    lst = default_collate([[1, 2], [3, 4]])
    assert _eq(lst, [ttorch.tensor([1, 3]), ttorch.tensor([2, 4])])


def test_collate_errors():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors, numpy arrays, numbers, "
                                        "dicts or lists; found <U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float64(2.0), "s"), "p": Point(np.int32(1), 2)})
    assert out["a"].tolist() == [0, 1, 2] and out["a"].dtype == ttorch.int64
    assert isinstance(out["b"], list) and out["b"][0].dtype == ttorch.float64 and out["b"][1] == "s"
    assert type(out["p"]) is Point and out["p"].x.dtype == ttorch.int32 and out["p"].y == 2
    strs = np.array(["a", "b"])
    assert default_convert(strs) is strs
    t = ttorch.ones(2)
    assert default_convert(t) is t


# ------------------------------------------------------------------------------------------ datasets
def test_tensor_stack_concat_chain_subset():
    x, y = ttorch.arange(5), ttorch.arange(5) * 10
    ds = TensorDataset(x, y)
    assert len(ds) == 5 and [v.item() for v in ds[3]] == [3, 30]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(x, ttorch.arange(4))
    st = StackDataset(a=range(3), b="xyz")
    assert len(st) == 3 and st[1] == {"a": 1, "b": "y"}
    assert StackDataset(range(3), "xyz")[2] == (2, "z")
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(range(3), "xy")
    cat = ConcatDataset([Subset(range(10), [1, 2, 3]), Subset(range(10), [7, 8])])
    assert len(cat) == 5 and cat.cumulative_sizes == [3, 5]
    assert [cat[i] for i in range(5)] == [1, 2, 3, 7, 8] and cat[-1] == 8 and cat[-5] == 1
    with pytest.raises(ValueError, match="absolute value of index should not exceed dataset length"):
        cat[-6]
    summed = Subset(range(4), [0, 1]) + Subset(range(4), [3])
    assert isinstance(summed, ConcatDataset) and [summed[i] for i in range(3)] == [0, 1, 3]
    chain = _Range(3) + _Range(2)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5
    sub = Subset(ds, [4, 0])
    assert len(sub) == 2 and sub[0][1].item() == 40 and [s[0].item() for s in sub.__getitems__([1, 0])] == [0, 4]


def test_random_split_lengths_fractions_and_errors():
    g = ttorch.Generator().manual_seed(3)
    parts = random_split(range(10), [3, 7], generator=g)
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    again = random_split(range(10), [3, 7], generator=ttorch.Generator().manual_seed(3))
    assert [list(p) for p in again] == [list(p) for p in parts]
    other = random_split(range(10), [3, 7], generator=ttorch.Generator().manual_seed(4))
    assert [list(p) for p in other] != [list(p) for p in parts]
    # floor(10 * 0.3) = 3 each, the one left over goes to the first split
    assert [len(p) for p in random_split(range(10), [0.3, 0.3, 0.4])] == [3, 3, 4]
    assert [len(p) for p in random_split(range(11), [1 / 3] * 3)] == [4, 4, 3]
    with pytest.warns(UserWarning) as rec:
        assert [len(p) for p in random_split(range(3), [0.9, 0.05, 0.05])] == [3, 0, 0]
    assert [str(w.message)[:26] for w in rec] == ["Length of split at index 1", "Length of split at index 2"]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset!"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(range(10), [-0.5, 1.5])


# ------------------------------------------------------------------------------------------ samplers
def test_sequential_random_subset_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    s = RandomSampler(range(7), generator=ttorch.Generator().manual_seed(1))
    first, second = list(s), list(s)
    assert sorted(first) == list(range(7)) and sorted(second) == list(range(7)) and first != second
    assert list(RandomSampler(range(7), generator=ttorch.Generator().manual_seed(1))) == first
    long = list(RandomSampler(range(4), num_samples=10, generator=ttorch.Generator().manual_seed(0)))
    assert len(long) == 10 and sorted(long[:4]) == sorted(long[4:8]) == [0, 1, 2, 3]   # whole permutations
    rep = list(RandomSampler(range(3), replacement=True, num_samples=70))
    assert len(rep) == 70 and set(rep) == {0, 1, 2}
    ttorch.manual_seed(5)
    a = list(RandomSampler(range(9)))
    ttorch.manual_seed(5)
    assert list(RandomSampler(range(9))) == a          # no generator: follows the global seed
    with pytest.raises(TypeError, match="replacement should be a boolean value, but got replacement=1"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    sub = list(SubsetRandomSampler([10, 20, 30, 40], generator=ttorch.Generator().manual_seed(0)))
    assert sorted(sub) == [10, 20, 30, 40]


def test_weighted_random_sampler():
    w = [0.0, 1.0, 0.0, 3.0]
    draws = list(WeightedRandomSampler(w, 400, generator=ttorch.Generator().manual_seed(0)))
    assert set(draws) == {1, 3} and 0.15 < draws.count(1) / 400 < 0.35
    no_rep = list(WeightedRandomSampler([1.0, 2.0, 3.0, 4.0], 4, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=2.0"):
        WeightedRandomSampler(w, 2.0)
    with pytest.raises(ValueError, match=r"weights should be a 1d sequence but given weights have shape \(2, 2\)"):
        WeightedRandomSampler([[1.0, 2.0], [3.0, 4.0]], 2)


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value, but got drop_last=None"):
        BatchSampler(range(3), 2, None)


# ------------------------------------------------------------------------------------------ DataLoader
class _Squares(Dataset[dict]):         # subscriptable, as typed PyTorch code writes it
    def __len__(self):
        return 11

    def __getitem__(self, i):
        return {"x": ttorch.tensor([float(i), float(i * i)]), "i": i, "tag": f"s{i}"}


class _Range(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class _ShardedRange(_Range):
    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))      # worker k takes k, k + W, ...


class _WhoAmI(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        info = get_worker_info()
        return (i, info.id, info.num_workers, info.seed, ttorch.initial_seed(), random.random(), np.random.rand(),
                info.dataset is self, getattr(self, "tag", None))


def _init_fn(worker_id):
    get_worker_info().dataset.tag = f"init{worker_id}"


class _Faulty(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"bad sample {i}")
        return i


def test_loader_batches_drop_last_and_no_batching():
    dl = DataLoader(_Squares(), batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and [b["i"].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    assert batches[1]["x"].tolist()[1] == [5.0, 25.0] and batches[2]["tag"] == ["s8", "s9", "s10"]
    dl = DataLoader(_Squares(), batch_size=4, drop_last=True)
    assert len(dl) == 2 and len(list(dl)) == 2
    one = list(DataLoader(TensorDataset(ttorch.arange(3)), batch_size=None))
    assert [s[0].item() for s in one] == [0, 1, 2] and isinstance(one[0], list)     # default_convert: tuple -> list
    bs = DataLoader(range(6), batch_sampler=[[5, 0], [2]])
    assert [b.tolist() for b in bs] == [[5, 0], [2]]
    custom = DataLoader(range(5), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(custom) == [1, 5, 4]
    assert [b.tolist() for b in DataLoader(range(5), batch_size=2, sampler=[4, 3, 2, 1, 0])] == [[4, 3], [2, 1], [0]]


def _epochs(dl, n=2):
    return [[b["i"].tolist() for b in dl] for _ in range(n)]


def test_shuffle_is_deterministic_with_a_seeded_generator():
    a = _epochs(DataLoader(_Squares(), batch_size=3, shuffle=True, generator=ttorch.Generator().manual_seed(7)))
    b = _epochs(DataLoader(_Squares(), batch_size=3, shuffle=True, generator=ttorch.Generator().manual_seed(7)))
    c = _epochs(DataLoader(_Squares(), batch_size=3, shuffle=True, generator=ttorch.Generator().manual_seed(8)))
    assert a == b and a != c
    assert a[0] != a[1]                                   # each epoch reshuffles
    assert all(sorted(sum(e, [])) == list(range(11)) for e in a + c)
    ttorch.manual_seed(1)
    d = _epochs(DataLoader(_Squares(), batch_size=3, shuffle=True))
    ttorch.manual_seed(1)
    assert _epochs(DataLoader(_Squares(), batch_size=3, shuffle=True)) == d


def test_workers_give_the_same_batches_as_the_main_process():
    def load(workers, **kw):
        g = ttorch.Generator().manual_seed(11)
        return _epochs(DataLoader(_Squares(), batch_size=2, shuffle=True, generator=g, num_workers=workers,
                                  multiprocessing_context=CTX if workers else None, **kw))
    main = load(0)
    assert load(2) == main
    # persistent workers draw the base seed once, not every epoch (PyTorch): only epoch 1 matches
    persistent = load(2, persistent_workers=True, prefetch_factor=1, pin_memory=True, timeout=30)
    assert persistent[0] == main[0] and sorted(sum(persistent[1], [])) == list(range(11))
    assert load(2, persistent_workers=True) == persistent
    full = [list(DataLoader(_Squares(), batch_size=4, num_workers=w, multiprocessing_context=CTX if w else None))
            for w in (0, 3)]
    assert _eq(full[0], full[1])


def test_worker_info_seeds_and_init_fn():
    g = ttorch.Generator().manual_seed(21)
    base = ttorch.empty((), dtype=ttorch.int64).random_(generator=ttorch.Generator().manual_seed(21)).item()
    dl = DataLoader(_WhoAmI(), batch_size=None, num_workers=2, worker_init_fn=_init_fn, generator=g,
                    multiprocessing_context=CTX)
    rows = list(dl)
    assert [r[0] for r in rows] == list(range(6))
    for i, wid, nw, seed, torch_seed, py_rand, np_rand, same, tag in rows:
        assert wid == i % 2 and nw == 2 and seed == base + wid     # PyTorch: seed = base_seed + worker id
        assert torch_seed == seed and same and tag == f"init{wid}"
    assert rows[0][5] != rows[1][5] and rows[0][6] != rows[1][6]     # python and NumPy streams differ per worker
    assert get_worker_info() is None
    again = list(DataLoader(_WhoAmI(), batch_size=None, num_workers=2, generator=ttorch.Generator().manual_seed(21),
                            multiprocessing_context=CTX))
    assert [r[3:7] for r in again] == [r[3:7] for r in rows]         # same generator seed, same worker seeds
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        D.WorkerInfo(id=0).id = 1


def test_iterable_dataset_with_workers():
    main = [b.tolist() for b in DataLoader(_ShardedRange(9), batch_size=2)]
    assert main == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]
    sharded = [b.tolist() for b in DataLoader(_ShardedRange(9), batch_size=2, num_workers=2,
                                              multiprocessing_context=CTX)]
    # batches alternate between the workers (0: 0 2 4 6 8, 1: 1 3 5 7) until each runs out
    assert sharded == [[0, 2], [1, 3], [4, 6], [5, 7], [8]]
    copies = list(DataLoader(_Range(3), batch_size=None, num_workers=2, multiprocessing_context=CTX))
    assert sorted(copies) == [0, 0, 1, 1, 2, 2]        # without sharding each worker yields the whole stream
    dl = DataLoader(_ShardedRange(9), batch_size=2, num_workers=2, multiprocessing_context=CTX,
                    persistent_workers=True, drop_last=True)
    assert [[b.tolist() for b in dl] for _ in range(2)] == [[[0, 2], [1, 3], [4, 6], [5, 7]]] * 2
    assert len(DataLoader(_Range(9), batch_size=2)) == 5


def test_worker_errors_are_reraised_with_the_worker_id():
    dl = DataLoader(_Faulty(), batch_size=1, num_workers=2, multiprocessing_context=CTX)
    it = iter(dl)
    assert [next(it).item() for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 1") as e:
        next(it)
    assert "bad sample 5" in str(e.value)
    with pytest.raises(ValueError, match="bad sample 5"):
        list(DataLoader(_Faulty(), batch_size=2))
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 0"):
        list(DataLoader({1: "a"}, batch_size=None, sampler=[0], num_workers=1, multiprocessing_context=CTX))


def test_workers_shut_down():
    it = iter(DataLoader(_Squares(), batch_size=2, num_workers=2, multiprocessing_context=CTX))
    workers = it._workers
    next(it)
    del it                     # abandoned mid-epoch
    gc.collect()
    assert not any(w.is_alive() for w in workers)
    it = iter(DataLoader(_Squares(), batch_size=4, num_workers=2, multiprocessing_context=CTX))
    assert len(list(it)) == 3
    assert not any(w.is_alive() for w in it._workers)      # joined once the epoch ends


class _Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        import time
        time.sleep(1.0)
        return i


class _Dies(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        import os
        os._exit(3)


def test_timeout_and_dead_worker():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        list(DataLoader(_Slow(), num_workers=1, timeout=0.2, multiprocessing_context=CTX))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(_Dies(), num_workers=1, timeout=0.5, multiprocessing_context=CTX))


def test_worker_numpy_seed_is_a_seed_sequence():
    """PyTorch's per-worker NumPy seed is SeedSequence([worker_id, seed_lo, seed_hi, 0]).generate_state(4)."""
    from ttorch.utils.data._worker import _generate_state
    for base, wid in [(0, 0), (12345678901234, 3), (2 ** 63 - 5, 1)]:
        want = np.random.SeedSequence([wid, base & 0xFFFFFFFF, base >> 32, 0]).generate_state(4)
        assert _generate_state(base, wid) == want.tolist()


def test_loader_errors():
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(range(3), num_workers=-1)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(range(3), timeout=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(range(3), prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(range(3), persistent_workers=True)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(range(3), sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                         "sampler, and drop_last"):
        DataLoader(range(3), batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_size=None option disables auto-batching and is mutually exclusive "
                                         "with drop_last"):
        DataLoader(range(3), batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified shuffle option, "
                                         "but got shuffle=True"):
        DataLoader(_Range(3), shuffle=True)
    with pytest.raises(ValueError, match="DataLoader with IterableDataset: expected unspecified sampler option"):
        DataLoader(_Range(3), sampler=[0])
    with pytest.raises(ValueError, match="multiprocessing_context option should specify a valid start method"):
        DataLoader(range(3), num_workers=1, multiprocessing_context="telepathy")
    dl = DataLoader(range(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set after DataLoader is initialized"):
        dl.batch_size = 2
    dl.num_workers = 0     # other attributes may change


def test_docstring_examples():
    from ttorch.utils.data import _collate, dataloader, dataset, sampler
    for mod in (dataset, sampler, _collate, dataloader):
        res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
        assert res.failed == 0 and res.attempted > 0, mod.__name__
