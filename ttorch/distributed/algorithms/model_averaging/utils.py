"""Parameter averaging across the ranks of a process group (all-reduce of one flat buffer)."""
import itertools

__all__ = ["average_parameters", "get_params_to_average", "average_parameters_or_parameter_groups"]


def average_parameters(params, process_group):
    """Replace each parameter in ``params`` by its mean over the group's ranks. The parameters are
    flattened into one buffer for a single all-reduce (it costs their size in extra memory)."""
    import ttorch.distributed as dist
    from .... import cat
    group = process_group if process_group is not None else dist.group.WORLD
    if isinstance(group, int) and group == dist.GroupMember.NON_GROUP_MEMBER:     # not a member: nothing to do
        return
    params_1, params_2 = itertools.tee(params)
    flat = cat([p.data.reshape(-1) for p in params_1])
    flat /= dist.get_world_size(group)
    dist.all_reduce(flat, group=group)
    offset = 0
    for p in params_2:
        p.data = flat[offset:offset + p.numel()].view_as(p).type_as(p)
        offset += p.numel()


def get_params_to_average(params):
    """The parameters (of a model, or of an optimizer's parameter groups) that have a gradient."""
    from ....nn.parameter import Parameter
    out = []
    for param in params:
        if isinstance(param, Parameter):
            if param.grad is not None:
                out.append(param)
        elif isinstance(param, dict):
            out.extend(p for p in param["params"] if p.grad is not None)
        else:
            raise NotImplementedError(f"Parameter input of type {type(param)} is not supported")
    return out


def average_parameters_or_parameter_groups(params, process_group):
    """Average the parameters of a model or the parameter groups of an optimizer."""
    average_parameters(iter(get_params_to_average(params)), process_group)
