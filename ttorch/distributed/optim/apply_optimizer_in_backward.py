"""Optimizers that step inside ``backward``: ``_apply_optimizer_in_backward(SGD, params, {"lr": 0.1})`` gives
each parameter its own optimizer, run as soon as that parameter's gradient is accumulated; the gradient is
then set to None (so the peak memory holds one gradient at a time). PyTorch's names keep their leading
underscore; ``_get_in_backward_optimizers(module)`` returns the optimizers (for checkpoints).

Example::

    >>> from ttorch.distributed.optim import _apply_optimizer_in_backward
    >>> lin = ttorch.nn.Linear(2, 1, bias=False)
    >>> with ttorch.no_grad():
    ...     _ = lin.weight.fill_(1.0)
    >>> _apply_optimizer_in_backward(ttorch.optim.SGD, lin.parameters(), {"lr": 0.5})
    >>> lin(ttorch.ones(1, 2)).sum().backward()
    >>> lin.weight.tolist(), lin.weight.grad
    ([[0.5, 0.5]], None)
"""
from ...utils.weak import WeakTensorKeyDictionary

__all__ = []

param_to_optim_hook_handle_map = WeakTensorKeyDictionary()


def _apply_optimizer_in_backward(optimizer_class, params, optimizer_kwargs, register_hook=True):
    """Give each of ``params`` an ``optimizer_class(param, **optimizer_kwargs)`` stepped after its gradient
    is accumulated in ``backward`` (with ``register_hook``; else only attached as
    ``param._in_backward_optimizers``, for a caller such as DDP to run)."""
    def apply(param):
        optimizer = optimizer_class([param], **optimizer_kwargs)
        if not hasattr(param, "_in_backward_optimizers"):
            param._in_backward_optimizers = []
            param._optimizer_classes = []
            param._optimizer_kwargs = []
        param._in_backward_optimizers.append(optimizer)
        param._optimizer_classes.append(optimizer_class)
        param._optimizer_kwargs.append(optimizer_kwargs)
        if not register_hook:
            return

        def optimizer_hook(p):
            for opt in p._in_backward_optimizers:
                opt.step()
            p.grad = None
        handle = param.register_post_accumulate_grad_hook(optimizer_hook)
        if param not in param_to_optim_hook_handle_map:
            param_to_optim_hook_handle_map[param] = []
        param_to_optim_hook_handle_map[param].append(handle)

    for param in params:
        apply(param)


def _get_in_backward_optimizers(module):
    """The in-backward optimizers of ``module``'s parameters (not to be stepped by hand)."""
    optims = []
    for param in module.parameters():
        optims.extend(getattr(param, "_in_backward_optimizers", []))
    return optims
