"""``ttorch.func``: composable function transforms (PyTorch's ``torch.func``, formerly functorch).

``grad``, ``grad_and_value``, ``vjp``, ``jacrev``, ``jacfwd`` and ``hessian`` are built on
``autograd.grad`` (``_eager_transforms.py``); ``vmap`` loops over the mapped dimension
(``_vmap.py``); ``functional_call`` runs a module with other parameters (``_functional_call.py``).
They nest: ``vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)`` gives per-sample gradients.

``jvp``, ``linearize`` and ``jacfwd`` run in forward mode (``ttorch.autograd.forward_ad``).

``vmap`` runs the function once on the whole batch through batching rules (``_batched.py``,
``_batch_rules.py``); an op without a rule runs per sample inside that call.
Differs from PyTorch: ``functionalize`` runs the function as it is (``_functionalize.py``); a call that cannot be
batched (storage reads, forward AD, random ops under nested vmaps) reruns per sample, and ``jacfwd`` calls the
function once per input element.

Example::

    >>> import ttorch.nn as nn
    >>> from ttorch.func import functional_call, grad, vmap
    >>> model = nn.Linear(3, 1)
    >>> params = {k: v.detach() for k, v in model.named_parameters()}
    >>> def loss(params, x, y):
    ...     return ((functional_call(model, params, (x,)) - y) ** 2).sum()
    >>> x, y = ttorch.randn(5, 3), ttorch.randn(5, 1)
    >>> g = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    >>> g["weight"].shape, g["bias"].shape
    (ttorch.Size([5, 1, 3]), ttorch.Size([5, 1]))
"""
from ._eager_transforms import grad, grad_and_value, vjp, jvp, linearize, jacrev, jacfwd, hessian
from ._vmap import vmap
from ._functional_call import functional_call, stack_module_state
from ._functionalize import functionalize, replace_all_batch_norm_modules_

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state", "functionalize", "replace_all_batch_norm_modules_"]


def debug_unwrap(tensor, *, recurse=True):
    """The tensor under a transform's wrapper, for looking at in a debugger: a ``vmap``-batched tensor's
    whole batch (batch dim first); with ``recurse``, through every nested ``vmap`` level. Other tensors come
    back as they are (ttorch's ``grad`` wraps nothing). Using the result inside the transformed function is
    undefined, as in PyTorch."""
    from ._batched import BatchedTensor
    while type(tensor) is BatchedTensor:
        tensor = tensor._value
        if not recurse:
            break
    return tensor


__all__.append("debug_unwrap")
