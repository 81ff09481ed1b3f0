"""``ttorch.autograd.variable``: the module that holds ``Variable`` (pre-0.4 PyTorch's tensor wrapper, now
the Tensor itself; defined in ``_legacy.py``). As in PyTorch, the attribute ``ttorch.autograd.variable`` is
the deprecated function, and this module is reached by ``import`` / ``from ... import``."""
from ._legacy import Variable, VariableMeta  # noqa: F401

__all__ = ["VariableMeta", "Variable"]
