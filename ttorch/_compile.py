"""``ttorch.compile``: PyTorch's signature, no compiler yet: the model comes back unchanged.

Code written for ``torch.compile`` runs as it is, eagerly, with the same results; a real
graph compiler can later take this entry point without changing callers.
"""


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """Return ``model`` (a function or ``nn.Module``) unchanged; ttorch has no compiler yet.

    Usable as ``ttorch.compile(fn)``, as ``@ttorch.compile`` and as ``@ttorch.compile(mode=...)``.

    Example::

        >>> f = ttorch.compile(lambda x: x + 1)
        >>> f(ttorch.tensor(1)).item()
        2
    """
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if model is None:
        def fn(model):
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                           options=options, disable=disable)
        return fn
    if not callable(model):
        raise RuntimeError(f"Expected a callable, got {type(model).__name__}")
    return model
