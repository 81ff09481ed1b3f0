"""FSDP's communication hooks (PyTorch's ``torch.distributed.algorithms._comm_hooks``)."""
from .default_hooks import DefaultState, allreduce_hook, reduce_scatter_hook  # noqa: F401
