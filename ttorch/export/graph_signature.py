"""What each input and output of an exported graph is (PyTorch's ``torch.export.graph_signature``).

An ExportedProgram's graph takes its parameters, buffers and constant tensors as placeholders ahead of the
user's inputs; ``ExportGraphSignature`` says which placeholder is which (``InputSpec``: kind, argument,
fully qualified name of the state it stands for) and what each returned value is (``OutputSpec``).
"""
import dataclasses
from enum import Enum, auto
from typing import Any, Optional


@dataclasses.dataclass
class TensorArgument:
    name: str


@dataclasses.dataclass
class SymIntArgument:
    name: str


@dataclasses.dataclass
class SymFloatArgument:
    name: str


@dataclasses.dataclass
class SymBoolArgument:
    name: str


@dataclasses.dataclass
class ConstantArgument:
    name: str
    value: Any


@dataclasses.dataclass
class CustomObjArgument:
    name: str
    class_fqn: str
    fake_val: Any = None


class InputKind(Enum):
    USER_INPUT = auto()
    PARAMETER = auto()
    BUFFER = auto()
    CONSTANT_TENSOR = auto()
    CUSTOM_OBJ = auto()
    TOKEN = auto()


class OutputKind(Enum):
    USER_OUTPUT = auto()
    LOSS_OUTPUT = auto()
    BUFFER_MUTATION = auto()
    PARAMETER_MUTATION = auto()
    GRADIENT_TO_PARAMETER = auto()
    GRADIENT_TO_USER_INPUT = auto()
    USER_INPUT_MUTATION = auto()
    TOKEN = auto()


@dataclasses.dataclass
class InputSpec:
    kind: InputKind
    arg: Any
    target: Optional[str]
    persistent: Optional[bool] = None

    def __post_init__(self):
        if self.kind == InputKind.BUFFER and self.persistent is None:
            raise AssertionError("Buffers must have a persistent flag")


@dataclasses.dataclass
class OutputSpec:
    kind: OutputKind
    arg: Any
    target: Optional[str]


def _name(arg):
    return getattr(arg, "name", None)


@dataclasses.dataclass
class ExportGraphSignature:
    """The placeholders and outputs of an exported graph, in order.

    Args:
        input_specs (list[InputSpec]): one per placeholder: parameters, buffers, constants, then user inputs.
        output_specs (list[OutputSpec]): one per returned value: mutated buffers, then user outputs.
    """
    input_specs: list
    output_specs: list

    def _targets(self, kind, persistent=None):
        return tuple(s.target for s in self.input_specs if s.kind == kind
                     and (persistent is None or s.persistent == persistent))

    @property
    def parameters(self):
        return self._targets(InputKind.PARAMETER)

    @property
    def buffers(self):
        return self._targets(InputKind.BUFFER)

    @property
    def non_persistent_buffers(self):
        return self._targets(InputKind.BUFFER, persistent=False)

    @property
    def lifted_tensor_constants(self):
        return self._targets(InputKind.CONSTANT_TENSOR)

    @property
    def lifted_custom_objs(self):
        return self._targets(InputKind.CUSTOM_OBJ)

    @property
    def user_inputs(self):
        return tuple(s.arg.value if isinstance(s.arg, ConstantArgument) and s.arg.name is None else _name(s.arg)
                     for s in self.input_specs if s.kind == InputKind.USER_INPUT)

    @property
    def user_outputs(self):
        return tuple(s.arg.value if isinstance(s.arg, ConstantArgument) else _name(s.arg)
                     for s in self.output_specs if s.kind in (OutputKind.USER_OUTPUT, OutputKind.LOSS_OUTPUT))

    def _map(self, specs, kind):
        return {_name(s.arg): s.target for s in specs if s.kind == kind}

    @property
    def inputs_to_parameters(self):
        return self._map(self.input_specs, InputKind.PARAMETER)

    @property
    def inputs_to_buffers(self):
        return self._map(self.input_specs, InputKind.BUFFER)

    @property
    def inputs_to_lifted_tensor_constants(self):
        return self._map(self.input_specs, InputKind.CONSTANT_TENSOR)

    @property
    def inputs_to_lifted_custom_objs(self):
        return self._map(self.input_specs, InputKind.CUSTOM_OBJ)

    @property
    def buffers_to_mutate(self):
        return self._map(self.output_specs, OutputKind.BUFFER_MUTATION)

    @property
    def parameters_to_mutate(self):
        return self._map(self.output_specs, OutputKind.PARAMETER_MUTATION)

    @property
    def user_inputs_to_mutate(self):
        return self._map(self.output_specs, OutputKind.USER_INPUT_MUTATION)

    @property
    def backward_signature(self):
        return None

    @property
    def assertion_dep_token(self):
        return None

    @property
    def input_tokens(self):
        return ()

    @property
    def output_tokens(self):
        return ()

    def replace_all_uses(self, old, new):
        """Rename the argument ``old`` to ``new`` in every spec (after a node was renamed)."""
        for s in self.input_specs + self.output_specs:
            if isinstance(s.arg, (TensorArgument, SymIntArgument, SymFloatArgument, SymBoolArgument)) \
                    and s.arg.name == old:
                s.arg.name = new

    def __str__(self):
        def line(s):
            text = f"{_name(s.arg)}: {s.kind.name}"
            if s.target is not None:
                text += f" target='{s.target}'"
            if getattr(s, "persistent", None) is not None:
                text += f" persistent={s.persistent}"
            return text
        return "\n".join(["", "# inputs"] + [line(s) for s in self.input_specs]
                         + ["", "# outputs"] + [line(s) for s in self.output_specs] + [""])


@dataclasses.dataclass
class ExportBackwardSignature:
    gradients_to_parameters: dict
    gradients_to_user_inputs: dict
    loss_output: str


__all__ = ["ConstantArgument", "CustomObjArgument", "ExportBackwardSignature", "ExportGraphSignature",
           "InputKind", "InputSpec", "OutputKind", "OutputSpec", "SymIntArgument", "SymFloatArgument",
           "SymBoolArgument", "TensorArgument"]
