"""``parallel_apply``: call each module on its own inputs (one replica per device).

PyTorch runs the calls on one thread per replica, each under its device and stream; ttorch calls them
one after the other on the calling thread (its devices share one host process and a single simulated or
real GPU), with the same grad and autocast state. Results, argument checks and error re-raising match.
"""
from ..._tensor import Tensor

__all__ = ["get_a_var", "parallel_apply"]


def get_a_var(obj):
    """The first tensor found in ``obj`` (a tensor, list, tuple or dict), else None."""
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, (list, tuple)):
        for r in map(get_a_var, obj):
            if isinstance(r, Tensor):
                return r
    if isinstance(obj, dict):
        for r in map(get_a_var, obj.items()):
            if isinstance(r, Tensor):
                return r
    return None


def parallel_apply(modules, inputs, kwargs_tup=None, devices=None):
    """``[modules[i](*inputs[i], **kwargs_tup[i]) ...]``; an ``inputs[i]`` that is not a list or tuple is the
    one argument.

    Example::

        >>> from ttorch.nn.parallel import parallel_apply
        >>> parallel_apply([ttorch.nn.Identity(), ttorch.neg], [ttorch.ones(1), (ttorch.ones(1),)])
        [tensor([1.]), tensor([-1.])]
    """
    if len(modules) != len(inputs):
        raise AssertionError(f"The number of modules {len(modules)} is not equal to the number of inputs "
                             f"{len(inputs)}")
    if kwargs_tup is not None:
        if len(modules) != len(kwargs_tup):
            raise AssertionError(f"The number of modules {len(modules)} is not equal to the number of kwargs_tup "
                                 f"{len(kwargs_tup)}")
    else:
        kwargs_tup = ({},) * len(modules)
    if devices is not None and len(modules) != len(devices):
        raise AssertionError(f"The number of modules {len(modules)} is not equal to the number of devices "
                             f"{len(devices)}")
    outputs = []
    for module, inp, kwargs in zip(modules, inputs, kwargs_tup):
        if not isinstance(inp, (list, tuple)):
            inp = (inp,)
        outputs.append(module(*inp, **kwargs))
    return outputs
