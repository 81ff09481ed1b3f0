"""``default_collate`` (a list of samples -> a batch) and ``default_convert`` (one sample, NumPy
arrays -> tensors), PyTorch's rules, plus the fetchers that read samples from a dataset."""
import collections.abc
import copy
import re

import numpy as np

__all__ = ["default_collate", "default_convert", "collate"]

# NumPy dtypes of bytes, unicode and objects: such arrays are not turned into tensors
_np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                                  "lists; found {}")


def _tensor():
    import ttorch
    return ttorch


def default_convert(data):
    """Converts NumPy arrays and scalars in ``data`` (also inside dicts, lists, namedtuples) to tensors;
    tuples become lists, as in PyTorch. The DataLoader's collate_fn when ``batch_size=None``."""
    t = _tensor()
    elem_type = type(data)
    if isinstance(data, t.Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        if elem_type.__name__ == "ndarray" and _np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return t.as_tensor(np.asarray(data))     # np.float64 is a float subclass: keep its dtype
    if isinstance(data, collections.abc.Mapping):
        return _rebuild_mapping(data, {k: default_convert(data[k]) for k in data})
    if isinstance(data, tuple) and hasattr(data, "_fields"):     # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuild_mapping(elem, values):
    """A mapping of ``elem``'s type holding ``values``; a plain dict when the type can't be rebuilt."""
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)        # keeps the type and any attributes (OrderedDict, defaultdict...)
            clone.update(values)
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def _rebuild_sequence(elem, values):
    try:
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:
        return values


def _collate_tensor(batch):
    return _tensor().stack(batch, 0)


def _collate_leaf(batch):
    """The batch's elements are tensors, arrays or numbers; None when they are not."""
    t = _tensor()
    elem = batch[0]
    if isinstance(elem, t.Tensor):
        return _collate_tensor(batch)
    if isinstance(elem, np.ndarray):
        if _np_str_obj_array_pattern.search(elem.dtype.str) is not None:
            raise TypeError(default_collate_err_msg_format.format(elem.dtype))
        return _collate_tensor([t.as_tensor(b) for b in batch])
    if isinstance(elem, (np.bool_, np.number)):
        return t.as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return t.tensor(batch, dtype=t.float64)
    if isinstance(elem, int):           # bool included: a bool tensor
        return t.tensor(batch)
    return None


def collate(batch, *, collate_fn_map=None):
    """The recursive collation behind ``default_collate``; ``collate_fn_map`` maps a type (checked
    exactly, then by isinstance) to ``fn(batch, *, collate_fn_map)``, as in PyTorch."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for typ, fn in collate_fn_map.items():
            if isinstance(elem, typ):
                return fn(batch, collate_fn_map=collate_fn_map)
    out = _collate_leaf(batch)
    if out is not None:
        return out
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild_mapping(elem, {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map)
                                       for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):     # namedtuple
        return elem_type(*(collate(list(s), collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [collate(list(s), collate_fn_map=collate_fn_map) for s in zip(*batch)]
        if isinstance(elem, tuple):     # tuples become lists, PyTorch's backward-compatible rule
            return transposed
        return _rebuild_sequence(elem, transposed)
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def default_collate(batch):
    """Stacks a list of samples into a batch, recursively: tensors are stacked on a new first
    dimension, NumPy arrays and numbers become tensors (Python floats float64), strings stay a
    list, dicts / namedtuples / sequences are collated field by field (tuples come back as lists).

    Example:
        >>> default_collate([(1, 2.0, "a"), (3, 4.0, "b")])
        [tensor([1, 3]), tensor([2., 4.], dtype=ttorch.float64), ['a', 'b']]
    """
    return collate(batch)


class _MapDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation = dataset, auto_collation
        self.collate_fn, self.drop_last = collate_fn, drop_last

    def fetch(self, possibly_batched_index):
        if self.auto_collation:
            if callable(getattr(self.dataset, "__getitems__", None)):
                data = self.dataset.__getitems__(possibly_batched_index)
            else:
                data = [self.dataset[i] for i in possibly_batched_index]
        else:
            data = self.dataset[possibly_batched_index]
        return self.collate_fn(data)


class _IterableDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset, self.auto_collation = dataset, auto_collation
        self.collate_fn, self.drop_last = collate_fn, drop_last
        self.dataset_iter = iter(dataset)
        self.ended = False

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in possibly_batched_index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def _create_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = _IterableDatasetFetcher if is_iterable else _MapDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)
