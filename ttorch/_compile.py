"""``ttorch.compile``: PyTorch's signature; traces with ``ttorch.fx``, guards, and compiles with a backend.

The "inductor" backend (``ttorch/_inductor``) fuses chains of elementwise ops into generated Triton
kernels on cuda; "eager"/"aot_eager" (and the other names PyTorch lists) run the traced graph as it is;
a callable ``backend(gm, example_inputs)`` gets the ``fx.GraphModule`` and the inputs, as PyTorch's does.
See ``ttorch/_dynamo/eval_frame.py`` for the guards and the eager fallback.
"""


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
            disable=False):
    """Compile ``model`` (a function or ``nn.Module``): a callable with the same results.

    Usable as ``ttorch.compile(fn)``, as ``@ttorch.compile`` and as ``@ttorch.compile(mode=...)``. A module
    comes back as an ``OptimizedModule`` wrapping it; ``disable=True`` returns ``model`` itself.

    Args:
        fullgraph (bool): raise ``ttorch._dynamo.exc.Unsupported`` where tracing fails, instead of
            running that call eagerly.
        dynamic: accepted; every input shape is specialized (a new shape compiles again).
        backend (str or callable): "inductor" (default), "eager", "aot_eager", or ``backend(gm, example_inputs)``.
        mode (str): PyTorch's mode names, accepted (one compiler here).

    Example::

        >>> f = ttorch.compile(lambda x: x + 1)
        >>> f(ttorch.tensor(1)).item()
        2
    """
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    from ._dynamo import eval_frame
    if mode is not None and mode not in eval_frame.MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(eval_frame.MODES)}")
    if model is None:
        def fn(model):
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                           options=options, disable=disable)
        return fn
    if not callable(model):
        raise RuntimeError(f"Expected a callable, got {type(model).__name__}")
    if disable:
        return model
    from .nn import Module
    if isinstance(model, Module):
        return eval_frame.OptimizedModule(model, eval_frame.CompiledFunction(model.forward, backend, fullgraph,
                                                                              dynamic, module=model))
    return eval_frame.CompiledFunction(model, backend, fullgraph, dynamic)
