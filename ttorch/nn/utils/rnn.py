"""Utilities for variable-length sequences: ``pad_sequence``, ``unpad_sequence`` and packed sequences
(``PackedSequence``, ``pack_padded_sequence``, ``pad_packed_sequence``, ``pack_sequence``,
``unpack_sequence``), which the recurrent layers take."""
from collections import namedtuple

import ttorch
from ..._tensor import Tensor

__all__ = ["pad_sequence", "unpad_sequence", "PackedSequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpack_sequence", "invert_permutation"]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    r"""Stack tensors of different lengths (dim 0), padding each with ``padding_value``.

    Args:
        sequences (list[Tensor]): tensors of shape ``(L_i, *)``.
        batch_first (bool): output ``(B, T, *)`` if True, ``(T, B, *)`` otherwise. Default: False.
        padding_value (float): value of the padded elements. Default: 0.
        padding_side (str): ``"right"`` or ``"left"``. Default: ``"right"``.

    Example::

        >>> pad_sequence([ttorch.ones(2), ttorch.ones(1)], batch_first=True)
        tensor([[1., 1.],
                [1., 0.]])
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if len(sequences) == 0:
        raise RuntimeError("received an empty list of sequences")
    for s in sequences:
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence(): argument 'sequences' must be tuple of Tensors, not {type(s).__name__}")
    max_len = max(s.size(0) for s in sequences)
    trailing = tuple(sequences[0]._shape[1:])
    padded = []
    for s in sequences:
        n = max_len - s.size(0)
        if n == 0:
            padded.append(s)
            continue
        # cat with a constant block keeps the result differentiable with respect to each sequence
        pad = ttorch.full((n,) + trailing, padding_value, dtype=s.dtype, device=s.device)
        padded.append(ttorch.cat([s, pad] if padding_side == "right" else [pad, s]))
    return ttorch.stack(padded, 0 if batch_first else 1)   # (B, T, *) or (T, B, *)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    r"""The inverse of ``pad_sequence`` (right padding): a list of the unpadded tensors."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lengths = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    return [seq[:int(n)] for seq, n in zip(padded_sequences, lengths)]


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Variable-length sequences packed time step by time step: ``data`` (sum of the lengths, *) holds
    step 0 of every sequence, then step 1 of those that have one, and so on (sequences sorted by length,
    longest first); ``batch_sizes`` (an int64 cpu tensor) how many sequences each step has;
    ``sorted_indices`` / ``unsorted_indices`` the permutation from the caller's batch order and back (None
    when the batch came sorted). The recurrent layers take one and give one back."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        idx = [None if i is None else i.to(dev) for i in (self.sorted_indices, self.unsorted_indices)]
        return type(self)(data, self.batch_sizes, *idx)

    def cuda(self, *args, **kwargs):
        return self.to("cuda" if not args else args[0], **kwargs)

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=ttorch.float64)

    def float(self):
        return self.to(dtype=ttorch.float32)

    def half(self):
        return self.to(dtype=ttorch.float16)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The inverse of the 1-D index tensor ``permutation`` (None stays None): converts between the sorted and
    unsorted indices of a ``PackedSequence``.

    Example::

        >>> ttorch.nn.utils.rnn.invert_permutation(ttorch.tensor([2, 0, 1]))
        tensor([1, 2, 0])
    """
    if permutation is None:
        return None
    inv = ttorch.empty_like(permutation)
    inv.scatter_(0, permutation, ttorch.arange(permutation.numel(), device=permutation.device))
    return inv


_invert = invert_permutation


def _packed_to_padded(data, batch_sizes, padding_value=0.0):
    """(T, B, *) time-major padding of packed ``data`` (sorted order), B = batch_sizes[0]."""
    sizes = [int(b) for b in batch_sizes.tolist()]
    steps, start = [], 0
    for b in sizes:
        chunk = data[start:start + b]
        start += b
        if b < sizes[0]:
            fill = ttorch.full((sizes[0] - b,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
                               device=data.device)
            chunk = ttorch.cat([chunk, fill])
        steps.append(chunk)
    return ttorch.stack(steps, 0)


def _padded_to_packed(padded, batch_sizes):
    """The inverse of ``_packed_to_padded``: each step's first batch_sizes[t] rows, in turn."""
    return ttorch.cat([padded[t, :int(b)] for t, b in enumerate(batch_sizes.tolist())])


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) (``batch_first``: (B, T, *)) of sequences of ``lengths`` (a list or an
    int64 tensor). ``enforce_sorted``: the lengths must come longest first; else they are sorted here and
    the permutation kept, so ``pad_packed_sequence`` restores the caller's order.

    Example::

        >>> x = ttorch.tensor([[1, 2, 3], [4, 5, 0]])
        >>> p = pack_padded_sequence(x, [3, 2], batch_first=True)
        >>> p.data.tolist(), p.batch_sizes.tolist()
        ([1, 4, 2, 5, 3], [2, 2, 1])
    """
    if isinstance(lengths, Tensor):
        lengths = lengths.tolist()
    lengths = [int(n) for n in lengths]
    if enforce_sorted:
        if any(a < b for a, b in zip(lengths, lengths[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        sorted_indices = ttorch.tensor(order, dtype=ttorch.int64, device=input.device)
        lengths = [lengths[i] for i in order]
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if any(n <= 0 for n in lengths):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that "
                           "is <= 0")
    if batch_first:
        input = input.transpose(0, 1)                                   # (T, B, *)
    if lengths[0] > input.shape[0]:
        raise RuntimeError(f"Expected sequence length to be larger than or equal to {lengths[0]}, but got "
                           f"{input.shape[0]}")
    batch_sizes = ttorch.tensor([sum(n > t for n in lengths) for t in range(lengths[0])], dtype=ttorch.int64)
    return PackedSequence(_padded_to_packed(input, batch_sizes), batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """``(padded, lengths)``: the inverse of ``pack_padded_sequence``, in the caller's batch order;
    ``total_length`` pads the time dim to that many steps.

    Example::

        >>> p = pack_sequence([ttorch.tensor([1, 2, 3]), ttorch.tensor([4, 5])])
        >>> x, n = pad_packed_sequence(p, batch_first=True)
        >>> x.tolist(), n.tolist()
        ([[1, 2, 3], [4, 5, 0]], [3, 2])
    """
    data, batch_sizes, _, unsorted_indices = sequence
    steps = batch_sizes.shape[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {steps}")
    padded = _packed_to_padded(data, batch_sizes, padding_value)       # (T, B, *)
    if total_length is not None and total_length > steps:
        fill = ttorch.full((total_length - steps,) + tuple(padded.shape[1:]), padding_value, dtype=padded.dtype,
                           device=padded.device)
        padded = ttorch.cat([padded, fill])
    sizes = batch_sizes.tolist()
    lengths = ttorch.tensor([sum(b > i for b in sizes) for i in range(sizes[0])], dtype=ttorch.int64)
    if unsorted_indices is not None:
        padded = padded.index_select(1, unsorted_indices)
        lengths = lengths[unsorted_indices.cpu()]
    return (padded.transpose(0, 1) if batch_first else padded), lengths


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) of decreasing lengths (any order with ``enforce_sorted=False``)."""
    lengths = [s.size(0) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of tensors a ``PackedSequence`` holds, in the caller's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
