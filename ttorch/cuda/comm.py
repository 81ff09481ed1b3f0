"""``ttorch.cuda.comm``: copy tensors between devices (broadcast, scatter, gather, reduce_add), the single
process collectives behind ``nn.DataParallel``. ``ttorch.nn.parallel.comm`` is this module.

Devices are cuda indices, ``"cuda:i"`` or ``ttorch.device``; ``-1`` (or ``"cpu"``) names the host where
PyTorch allows it (``gather``'s destination). The copies are plain ``Tensor.to`` copies (PyTorch uses NCCL
where it can): the values are the same. The ``*_coalesced`` forms take PyTorch's ``buffer_size`` and copy
tensor by tensor.
"""
__all__ = ["broadcast", "broadcast_coalesced", "reduce_add", "reduce_add_coalesced", "scatter", "gather"]


def _device(d, allow_cpu=False):
    """A ``ttorch.device`` from an index, a string or a device; None is the current cuda device."""
    from .._device import device
    from . import current_device
    if d is None:
        return device("cuda", current_device())
    if isinstance(d, int) and not isinstance(d, bool):
        if d == -1 and allow_cpu:
            return device("cpu")
        return device("cuda", d)
    d = d if isinstance(d, device) else device(d)
    if d.type == "cuda" and d.index is None:
        return device("cuda", current_device())
    if d.type == "cpu" and not allow_cpu:
        raise RuntimeError(f"Expected a cuda device, but got: {d}")
    return d


def broadcast(tensor, devices=None, *, out=None):
    """Copies of ``tensor`` on each of ``devices`` (a tuple), or copied into each tensor of ``out``."""
    if not ((devices is None) ^ (out is None)):
        raise RuntimeError(f"Exactly one of 'devices' and 'out' must be specified, but got devices={devices} "
                           f"and out={out}")
    if devices is not None:
        return tuple(tensor.to(_device(d), copy=True) for d in devices)
    for o in out:
        if tuple(o.shape) != tuple(tensor.shape):
            raise RuntimeError(f"output tensor shape {list(o.shape)} does not match input shape "
                               f"{list(tensor.shape)}")
        o.copy_(tensor)
    return tuple(out)


def broadcast_coalesced(tensors, devices, buffer_size=10485760):
    """For each device, a tuple of copies of ``tensors`` placed there (a tuple of tuples)."""
    devices = [_device(d) for d in devices]
    return tuple(tuple(t.to(d, copy=True) for t in tensors) for d in devices)


def reduce_add(inputs, destination=None):
    """The elementwise sum of ``inputs`` (on cuda devices, of one shape), on ``destination`` (one of
    their devices; the current device by default)."""
    dest = _device(destination)
    size = inputs[0].size()
    root = None
    for i, inp in enumerate(inputs):
        if inp.device.type == "cpu":
            raise AssertionError(f"reduce_add expects all inputs to be on GPUs, but input {i} is on CPU")
        if inp.device == dest:
            root = i
        if inp.size() != size:
            got, want = "x".join(map(str, inp.size())), "x".join(map(str, size))
            raise ValueError(f"input {i} has invalid size: got {got}, but expected {want}")
    if root is None:
        raise RuntimeError("reduce_add expects destination to be on the same GPU with one of the tensors")
    if len(inputs) == 1:
        return inputs[0]
    others = [t for i, t in enumerate(inputs) if i != root]
    result = inputs[root] + others[0].to(dest)
    for t in others[1:]:
        result.add_(t.to(dest))
    return result


def reduce_add_coalesced(inputs, destination=None, buffer_size=10485760):
    """``inputs`` holds one list of tensors per device: a tuple of the sums of each position's tensors."""
    return tuple(reduce_add(list(group), destination) for group in zip(*inputs, strict=True))


def scatter(tensor, devices=None, chunk_sizes=None, dim=0, streams=None, *, out=None):
    """``tensor`` split along ``dim`` into one chunk per device (equal chunks as ``Tensor.chunk``, or
    ``chunk_sizes``), each copied to its device; or into the tensors of ``out``."""
    if out is None:
        if devices is None:
            raise RuntimeError("Exactly one of 'devices' and 'out' must be specified, but got devices=None "
                               "and out=None")
        devices = [_device(d) for d in devices]
        if chunk_sizes is None:
            chunks = tensor.chunk(len(devices), dim)
        else:
            chunk_sizes = list(chunk_sizes)
            if len(chunk_sizes) != len(devices):
                raise RuntimeError(f"Expected devices and chunk_sizes to be of same length, but got len(devices) "
                                   f"= {len(devices)} and len(chunk_sizes) = {len(chunk_sizes)}")
            if sum(chunk_sizes) != tensor.size(dim):
                raise RuntimeError(f"Chunk sizes should sum to {tensor.size(dim)}, but got {sum(chunk_sizes)}")
            chunks = tensor.split(chunk_sizes, dim)
        return tuple(c.to(d, copy=True).contiguous() for c, d in zip(chunks, devices))
    if devices is not None:
        raise RuntimeError(f"'devices' must not be specified when 'out' is specified, but got devices={devices}")
    if chunk_sizes is not None:
        raise RuntimeError(f"'chunk_sizes' must not be specified when 'out' is specified, but got "
                           f"chunk_sizes={chunk_sizes}")
    sizes = [o.size(dim) for o in out]
    if sum(sizes) != tensor.size(dim):
        raise RuntimeError(f"Total size for output sizes along scatter dim does not match the input size: "
                           f"expected {tensor.size(dim)} but got {sum(sizes)}")
    for o, c in zip(out, tensor.split(sizes, dim)):
        o.copy_(c)
    return tuple(out)


def gather(tensors, dim=0, destination=None, *, out=None):
    """``tensors`` concatenated along ``dim`` on ``destination`` (a device, ``-1``/``"cpu"`` for the host;
    the current cuda device by default), or into ``out``."""
    from .. import cat
    if out is None:
        if destination == -1:
            import warnings
            warnings.warn("Using -1 to represent CPU tensor is deprecated. Please use a device object or string "
                          "instead, e.g., \"cpu\".", FutureWarning, stacklevel=2)
        dest = _device(destination, allow_cpu=True)
        return cat([t.to(dest) for t in tensors], dim)
    if destination is not None:
        raise RuntimeError(f"'destination' must not be specified when 'out' is specified, but got "
                           f"destination={destination}")
    return cat([t.to(out.device) for t in tensors], dim, out=out)
