"""Utilities for variable-length sequences: ``pad_sequence`` and ``unpad_sequence``."""
import ttorch
from ..._tensor import Tensor

__all__ = ["pad_sequence", "unpad_sequence"]


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
