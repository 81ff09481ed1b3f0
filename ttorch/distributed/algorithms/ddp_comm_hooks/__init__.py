"""DDP communication hooks (PyTorch's ``torch.distributed.algorithms.ddp_comm_hooks``): ``default_hooks``
(all-reduce, float16/bfloat16 compression), ``powerSGD_hook`` (low-rank compression) and
``debugging_hooks``; ``DDPCommHookType`` and ``register_ddp_comm_hook`` pick one by name.

The quantization and optimizer-overlap hooks are not provided."""
import enum
from functools import partial

from . import debugging_hooks as debugging
from . import default_hooks as default
from . import powerSGD_hook as powerSGD

__all__ = ["DDPCommHookType", "register_ddp_comm_hook"]


def _ddp_comm_hook_wrapper(comm_hook, model, state):
    model.register_comm_hook(state, comm_hook)


def _powerSGD_comm_hook_wrapper(comm_hook, model, state, matrix_approximation_rank, start_powerSGD_iter=1_000):
    powerSGD_state = powerSGD.PowerSGDState(process_group=state, matrix_approximation_rank=matrix_approximation_rank,
                                            start_powerSGD_iter=start_powerSGD_iter)
    model.register_comm_hook(powerSGD_state, comm_hook)


_member = getattr(enum, "member", lambda x: x)     # partials are members by themselves before 3.11


class DDPCommHookType(enum.Enum):
    """The built-in hooks by name; ``DDPCommHookType.X.value(model=..., state=...)`` registers one."""
    ALLREDUCE = _member(partial(_ddp_comm_hook_wrapper, comm_hook=default.allreduce_hook))
    FP16_COMPRESS = _member(partial(_ddp_comm_hook_wrapper, comm_hook=default.fp16_compress_hook))
    BF16_COMPRESS = _member(partial(_ddp_comm_hook_wrapper, comm_hook=default.bf16_compress_hook))
    POWER_SGD = _member(partial(_powerSGD_comm_hook_wrapper, comm_hook=powerSGD.powerSGD_hook,
                                    matrix_approximation_rank=1))
    POWER_SGD_RANK2 = _member(partial(_powerSGD_comm_hook_wrapper, comm_hook=powerSGD.powerSGD_hook,
                                          matrix_approximation_rank=2))
    BATCHED_POWER_SGD = _member(partial(_powerSGD_comm_hook_wrapper, comm_hook=powerSGD.batched_powerSGD_hook,
                                            matrix_approximation_rank=1))
    BATCHED_POWER_SGD_RANK2 = _member(partial(_powerSGD_comm_hook_wrapper,
                                                  comm_hook=powerSGD.batched_powerSGD_hook,
                                                  matrix_approximation_rank=2))
    NOOP = _member(partial(_ddp_comm_hook_wrapper, comm_hook=debugging.noop_hook))


def register_ddp_comm_hook(comm_hook_type, model, state=None):
    """Register the hook ``comm_hook_type`` names on the DDP ``model``, with ``state`` (a process group, or
    None for the default one)."""
    comm_hook_type.value(model=model, state=state)
