"""``swa_utils``: stochastic weight averaging and EMA of a model's weights (``torch.optim.swa_utils``).

``AveragedModel`` keeps a copy of a model whose parameters (and optionally buffers) are a running
average of the model's: equal weights (SWA) by default, or an exponential moving average through
``get_ema_multi_avg_fn``. ``SWALR`` anneals each group's lr to a constant ``swa_lr``; ``update_bn``
recomputes BatchNorm statistics for the averaged weights with one pass over the data.
"""
import itertools
import math
from copy import deepcopy

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from ..autograd import grad_mode
from ..nn import Module
from .lr_scheduler import LRScheduler, _format_param

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn",
           "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _swa_weight(num_averaged):
    """``1 / (n + 1)``; from a tensor count it is a float32 tensor in PyTorch, read as a Scalar."""
    if isinstance(num_averaged, Tensor):
        return float(np.float32(1.0 / (num_averaged.item() + 1)))
    return 1.0 / (num_averaged + 1)


def get_ema_multi_avg_fn(decay=0.999):
    r"""An in-place EMA over lists of tensors: ``ema = decay * ema + (1 - decay) * current``.

    Args:
        decay (float): the EMA's decay, in [0, 1]. Default: 0.999.
    """
    _check_decay(decay)

    @grad_mode.no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        if ema_param_list[0].is_floating_point() or ema_param_list[0].is_complex():
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                p_ema.lerp_(p_model, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    r"""An in-place equal-weight average over lists of tensors: ``avg += (current - avg) / (n + 1)``."""
    @grad_mode.no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if averaged_param_list[0].is_floating_point() or averaged_param_list[0].is_complex():
            w = _swa_weight(num_averaged)
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                p_avg.lerp_(p_model, w)
        else:
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                diff = p_model - p_avg
                if isinstance(num_averaged, Tensor):
                    p_avg.addcdiv_(diff, num_averaged + 1)
                else:
                    p_avg.add_(diff, alpha=1.0 / (num_averaged + 1))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    r"""An EMA of one tensor, returned: ``decay * ema + (1 - decay) * current``.

    Args:
        decay (float): the EMA's decay, in [0, 1]. Default: 0.999.
    """
    _check_decay(decay)

    @grad_mode.no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    r"""An equal-weight average of one tensor, returned: ``avg + (current - avg) / (n + 1)``."""
    @grad_mode.no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


def _group_by_device_and_dtype(averaged, current):
    groups = {}
    for a, c in zip(averaged, current):
        pair = groups.setdefault((a.device, a.dtype), ([], []))
        pair[0].append(a)
        pair[1].append(c)
    return groups


class AveragedModel(Module):
    r"""A copy of ``model`` whose weights are a running average of ``model``'s (SWA or EMA).

    ``update_parameters(model)`` first copies the weights, then averages them in with ``avg_fn``
    (one tensor, returns the average) or ``multi_avg_fn`` (lists of tensors, in place); neither:
    the equal-weight average. ``n_averaged`` (a buffer) counts the models averaged.

    Args:
        model (Module): the model to average.
        device (str or device, optional): where the averaged copy lives. Default: the model's.
        avg_fn, multi_avg_fn (callable, optional): ``(averaged, current, num_averaged)``; at most one.
        use_buffers (bool): average the buffers too (else they are copied). Default: False.

    Example::

        >>> model = ttorch.nn.Linear(1, 1, bias=False)
        >>> swa = ttorch.optim.swa_utils.AveragedModel(model)
        >>> for v in (1.0, 2.0, 6.0):
        ...     with ttorch.no_grad():
        ...         _ = model.weight.fill_(v)
        ...     swa.update_parameters(model)
        >>> swa.module.weight.item(), swa.n_averaged.item()
        (3.0, 3)
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        from ..ops.creation import tensor
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=D.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Average ``model``'s current weights into this copy."""
        if self.use_buffers:
            self_param = itertools.chain(self.module.parameters(), self.module.buffers())
            model_param = itertools.chain(model.parameters(), model.buffers())
        else:
            self_param, model_param = self.parameters(), model.parameters()
        self_detached, model_detached = [], []
        copy_param = bool(self.n_averaged == 0)
        for p_averaged, p_model in zip(self_param, model_param):
            p_model_ = p_model.detach().to(p_averaged.device)
            self_detached.append(p_averaged.detach())
            model_detached.append(p_model_)
            if copy_param:
                p_averaged.detach().copy_(p_model_)
        if self.n_averaged > 0:
            if self.multi_avg_fn is not None or self.avg_fn is None:
                for (device, _), (averaged, current) in _group_by_device_and_dtype(self_detached,
                                                                                  model_detached).items():
                    n_averaged = self.n_averaged.to(device)
                    if self.multi_avg_fn:
                        self.multi_avg_fn(averaged, current, n_averaged)
                    elif device.type == "cuda":     # PyTorch's foreach path: a lerp
                        get_swa_multi_avg_fn()(averaged, current, n_averaged)
                    else:
                        avg_fn = get_swa_avg_fn()
                        for p_averaged, p_model in zip(averaged, current):
                            p_averaged.copy_(avg_fn(p_averaged, p_model, n_averaged))
            else:
                for p_averaged, p_model in zip(self_detached, model_detached):
                    n_averaged = self.n_averaged.to(p_averaged.device)
                    p_averaged.detach().copy_(self.avg_fn(p_averaged.detach(), p_model, n_averaged))
        if not self.use_buffers:
            # the buffers follow the model (update_bn recomputes BatchNorm's for the averaged weights)
            for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                b_swa.detach().copy_(b_model.detach().to(b_swa.device))
        with grad_mode.no_grad():
            self.n_averaged.add_(1)


def update_bn(loader, model, device=None):
    r"""Recompute the running statistics of ``model``'s BatchNorm layers with one pass over ``loader``.

    The statistics are reset and accumulated as a cumulative average (``momentum=None``); each
    batch is a tensor or a list/tuple whose first element is the input.

    Args:
        loader (iterable): batches of input data.
        model (Module): the model whose BatchNorm layers are updated.
        device (str or device, optional): where each batch is moved before the forward pass.

    Example::

        >>> model = ttorch.nn.BatchNorm1d(1)
        >>> ttorch.optim.swa_utils.update_bn([ttorch.tensor([[1.0], [3.0]]), ttorch.tensor([[5.0], [7.0]])], model)
        >>> model.running_mean.item(), model.momentum, model.training
        (4.0, 0.1, True)
    """
    from ..nn.modules.batchnorm import _BatchNorm
    with grad_mode.no_grad():
        momenta = {}
        for module in model.modules():
            if isinstance(module, _BatchNorm):
                module.reset_running_stats()
                momenta[module] = module.momentum
        if not momenta:
            return
        was_training = model.training
        model.train()
        for module in momenta:
            module.momentum = None
        for input in loader:
            if isinstance(input, (list, tuple)):
                input = input[0]
            if device is not None:
                input = input.to(device)
            model(input)
        for bn_module in momenta:
            bn_module.momentum = momenta[bn_module]
        model.train(was_training)


class SWALR(LRScheduler):
    r"""Anneal each param group's lr to its fixed ``swa_lr`` over ``anneal_epochs`` steps.

    Args:
        optimizer (Optimizer): the wrapped optimizer.
        swa_lr (float or list): the final lr, for all groups or one per group.
        anneal_epochs (int): steps of the annealing phase. Default: 10.
        anneal_strategy (str): ``"cos"`` or ``"linear"``. Default: ``"cos"``.
        last_epoch (int): the index of the last epoch. Default: -1.

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.zeros(1))
        >>> opt = ttorch.optim.SGD([w], lr=1.0)
        >>> sched = ttorch.optim.swa_utils.SWALR(opt, swa_lr=0.1, anneal_epochs=3, anneal_strategy="linear")
        >>> lrs = []
        >>> for _ in range(4):
        ...     opt.step(); sched.step(); lrs.append(round(sched.get_last_lr()[0], 4))
        >>> lrs
        [0.7, 0.4, 0.1, 0.1]
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        for swa_lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = swa_lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        # recursive, as PyTorch's: recover the lr annealing started from, then move one step on
        self._warn_get_lr()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def state_dict(self):
        """Every attribute but the optimizer and the anneal function."""
        return {key: value for key, value in self.__dict__.items() if key not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
