"""``Stateful``: what ``save`` and ``load`` call ``state_dict``/``load_state_dict`` on (PyTorch's protocol)."""
from typing import Protocol, TypeVar, runtime_checkable

__all__ = ["Stateful", "StatefulT"]


@runtime_checkable
class Stateful(Protocol):
    """Any object with ``state_dict()`` and ``load_state_dict(state_dict)`` (modules, optimizers, your own):
    ``save`` stores its ``state_dict()``; ``load`` loads into its ``state_dict()`` then calls
    ``load_state_dict`` with the result."""

    def state_dict(self) -> dict:
        ...

    def load_state_dict(self, state_dict: dict) -> None:
        ...


StatefulT = TypeVar("StatefulT", bound=Stateful)
