"""``replicate``: one copy of a module per device whose parameters are differentiable copies of the
original's (gradients of a replica's outputs reach the original parameters), as ``nn.DataParallel`` makes.

A replica shares everything else (submodule attributes, hooks) with the original through a shallow copy
of its ``__dict__``, as PyTorch's ``_replicate_for_data_parallel``; its parameters are plain tensors (not
``Parameter``), buffers that do not require grad are detached copies.
"""
__all__ = ["replicate"]


def _replica(module):
    r = module.__new__(type(module))
    r.__dict__ = module.__dict__.copy()
    object.__setattr__(r, "_parameters", {})
    object.__setattr__(r, "_buffers", dict(module._buffers))
    object.__setattr__(r, "_modules", dict(module._modules))
    object.__setattr__(r, "_is_replica", True)
    return r


def replicate(network, devices, detach=False):
    """A list with one replica of ``network`` per device of ``devices`` (ints for cuda, devices, strings).

    Example::

        >>> from ttorch.nn.parallel import replicate
        >>> lin = ttorch.nn.Linear(2, 1)
        >>> (r,) = replicate(lin, ["cpu"])
        >>> r(ttorch.ones(1, 2)).sum().backward()
        >>> lin.weight.grad.tolist()
        [[1.0, 1.0]]
    """
    from ...cuda.comm import _device
    if not devices:
        return []
    devices = [_device(d, allow_cpu=True) for d in devices]
    modules = list(network.modules())
    out = []
    for dev in devices:
        copies = {id(m): _replica(m) for m in modules}
        for m in modules:
            r = copies[id(m)]
            for key, child in m._modules.items():
                r._modules[key] = None if child is None else copies[id(child)]
            for key, p in m._parameters.items():
                if p is None:
                    r._parameters[key] = None
                else:
                    c = p.detach().to(dev, copy=True) if detach else p.to(dev, copy=True)
                    r._parameters[key] = c
            for key, b in m._buffers.items():
                if b is not None:
                    keep = b.requires_grad and not detach
                    r._buffers[key] = b.to(dev, copy=True) if keep else b.detach().to(dev, copy=True)
        out.append(copies[id(network)])
    return out
