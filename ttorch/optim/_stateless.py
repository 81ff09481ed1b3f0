"""``swap_in_optimizer_params_and_state``: run optimizer APIs against other parameters and state for a while.

Inside the block the optimizer's ``param_groups`` hold the given tensors (and the given groups'
hyperparameters) and its ``state`` the given ``state_dict()``-shaped state, re-keyed by those tensors; on
exit the live groups and state come back. PyTorch uses it to trace ``optimizer.step()`` on fake tensors;
in ttorch it serves the same purpose for any stand-in tensors (a copy of the weights to step without
touching the live ones). The checks and messages are PyTorch's.
"""
import contextlib
from collections import defaultdict

from .._tensor import Tensor

__all__ = ["swap_in_optimizer_params_and_state"]

_NAME = "swap_in_optimizer_params_and_state"


def _validate_state(state):
    if not isinstance(state, dict):
        raise RuntimeError(f"{_NAME} requires swapin_optim_state['state'] to be a dict mapping packed parameter ids "
                           f"to per-param state dicts, got {type(state).__name__}.")
    if any(isinstance(k, Tensor) for k in state):
        raise RuntimeError(f"{_NAME} requires optimizer.state_dict()-style state keyed by packed parameter ids.")
    if any(isinstance(k, int) and not isinstance(v, dict) for k, v in state.items()):
        raise RuntimeError(f"{_NAME} requires per-parameter optimizer state entries to be dictionaries.")
    return state


def _validate_groups(optimizer, groups):
    if not isinstance(groups, list):
        raise RuntimeError(f"{_NAME} requires swapin_optim_state['param_groups'] to be a list of param-group dicts, "
                           f"got {type(groups).__name__}.")
    if len(optimizer.param_groups) != len(groups):
        raise RuntimeError("swapin_optim_state has a different number of parameter groups than the live optimizer.")
    return groups


def _validate_group(idx, group, swapin_group):
    if not isinstance(swapin_group, dict):
        raise RuntimeError(f"{_NAME} requires each optimizer param group to be a dictionary.")
    ids = swapin_group.get("params")
    if not isinstance(ids, list) or not all(isinstance(pid, int) for pid in ids):
        raise RuntimeError(f"{_NAME} requires optimizer.state_dict()-style param_groups[*]['params'] entries keyed "
                           "by packed parameter ids.")
    if len(group["params"]) != len(ids):
        raise RuntimeError(f"swapin_optim_state param group {idx} has a different number of params than the live "
                           "optimizer param group.")
    swapin_only = [k for k in swapin_group if k not in group]
    live_only = [k for k in group if k not in swapin_group]
    if swapin_only or live_only:
        raise RuntimeError(f"{_NAME} requires optimizer.state_dict()-style param group keys to exactly match the live "
                           f"optimizer group keys for group {idx}. Keys only in swap-in: {swapin_only}. Keys only "
                           f"in live: {live_only}.")
    return ids


@contextlib.contextmanager
def swap_in_optimizer_params_and_state(optimizer, swapin_parameters, swapin_optim_state):
    """Temporarily give ``optimizer`` the parameters ``swapin_parameters`` and the state ``swapin_optim_state``.

    Args:
        optimizer (Optimizer): the live optimizer; its state must already be initialized.
        swapin_parameters (dict[str, Tensor]): the tensors to use as parameters, in the order of the
            optimizer's parameters (usually ``model.named_parameters()`` order).
        swapin_optim_state (dict): ``optimizer.state_dict()``-shaped (``{"state", "param_groups"}``). Only
            in-place changes of its tensors reach it; other changes made inside are dropped.

    Example::

        >>> w = ttorch.nn.Parameter(ttorch.ones(2))
        >>> opt = ttorch.optim.SGD([w], lr=0.5, momentum=0.9)
        >>> (w * w).sum().backward(); opt.step()
        >>> copy = w.detach().clone(); copy.grad = w.grad.clone()
        >>> with ttorch.optim.swap_in_optimizer_params_and_state(opt, {"w": copy}, opt.state_dict()):
        ...     opt.step()
        >>> w.tolist(), [round(v, 4) for v in copy.tolist()]
        ([0.0, 0.0], [-1.9, -1.9])
    """
    if not optimizer.state:
        raise RuntimeError(f"{_NAME} requires initialized optimizer state.")
    if not isinstance(swapin_optim_state, dict):
        raise RuntimeError(f"{_NAME} requires a DCP-style optimizer state_dict.")
    state = _validate_state(swapin_optim_state.get("state"))
    groups = _validate_groups(optimizer, swapin_optim_state.get("param_groups"))
    flat = list(swapin_parameters.values())
    offset, seen, plan = 0, set(), []
    for idx, (group, swapin_group) in enumerate(zip(optimizer.param_groups, groups)):
        ids = _validate_group(idx, group, swapin_group)
        seen.update(ids)
        if offset + len(ids) > len(flat):
            raise RuntimeError(f"{_NAME} requires the explicit parameter state to match optimizer.param_groups "
                               "ordering.")
        plan.append((group, swapin_group, flat[offset:offset + len(ids)]))
        offset += len(ids)
    extra = [k for k in state if k not in seen]
    if extra:
        raise RuntimeError(f"{_NAME} requires swapin_optim_state['state'] to be keyed only by packed parameter ids "
                           f"from param_groups[*]['params']; got extra keys {extra!r}.")
    original_state = optimizer.state
    # shallow copies: the live groups' own dicts (and their params lists) come back on exit
    snapshots = [dict(g) for g in optimizer.param_groups]
    try:
        swapped = defaultdict(dict)
        for group, swapin_group, params in plan:
            group["params"] = params
            for key, value in swapin_group.items():
                if key != "params":
                    group[key] = value
            for p, pid in zip(params, swapin_group["params"]):
                # a shallow copy: in-place tensor updates reach the caller's state dict, new keys don't
                swapped[p] = dict(state.get(pid, {}))
        optimizer.state = swapped
        yield
    finally:
        for group, snapshot in zip(optimizer.param_groups, snapshots):
            group.clear()
            group.update(snapshot)
        optimizer.state = original_state
