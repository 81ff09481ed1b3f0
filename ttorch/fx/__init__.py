"""ttorch.fx: capture a module's forward as a Graph, edit it, and run it again (PyTorch's ``torch.fx``).

Tracing works by patching the public namespaces of ``ttorch`` and ``ttorch.nn.functional`` while
``Tracer.trace`` runs (not through ``__torch_function__`` as PyTorch's): see ``_symbolic_trace`` for the
differences.
"""
from .node import Node, map_arg, map_aggregate, has_side_effect
from .graph import Graph, PythonCode
from .proxy import Proxy, Attribute, TraceError
from ._symbolic_trace import Tracer, symbolic_trace, wrap
from .graph_module import GraphModule
from .interpreter import Interpreter, Transformer
from . import subgraph_rewriter, passes
from .subgraph_rewriter import replace_pattern

__all__ = ["Node", "map_arg", "map_aggregate", "has_side_effect", "Graph", "PythonCode", "Proxy", "Attribute",
           "TraceError", "Tracer", "symbolic_trace", "wrap", "GraphModule", "Interpreter", "Transformer",
           "replace_pattern", "subgraph_rewriter", "passes"]
