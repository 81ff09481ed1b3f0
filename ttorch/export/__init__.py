"""ttorch.export: capture a module's forward as a graph plus its state (PyTorch's ``torch.export``).

``export(mod, args)`` traces ``mod`` with ``ttorch.fx`` (every value also computed on the example inputs, see
``_trace``) into an ``ExportedProgram``; ``.module()`` runs it again, ``save``/``load`` store it in a ``.pt2``
zip archive (ttorch's own JSON schema, not PyTorch's), ``unflatten`` rebuilds the module hierarchy.
"""
from .dynamic_shapes import AdditionalInputs, Dim, ShapesCollection, dims
from .graph_signature import ExportBackwardSignature, ExportGraphSignature
from .exported_program import (CustomDecompTable, ExportedProgram, ModuleCallEntry, ModuleCallSignature,
                               default_decompositions)
from ._pytree import register_dataclass
from ._export import draft_export, export
from ._serialize import save, load
from .unflatten import unflatten, UnflattenedModule, FlatArgsAdapter

__all__ = ["AdditionalInputs", "CustomDecompTable", "Dim", "ExportBackwardSignature", "ExportGraphSignature",
           "ExportedProgram", "FlatArgsAdapter", "ModuleCallEntry", "ModuleCallSignature", "ShapesCollection",
           "UnflattenedModule", "default_decompositions", "dims", "draft_export", "export", "load",
           "register_dataclass", "save", "unflatten"]
