"""``ttorch._inductor``: the "inductor" backend of ``ttorch.compile`` (PyTorch's ``torch._inductor``).

``compile_fx(gm, example_inputs)`` runs an fx graph with its elementwise chains fused into generated Triton
kernels (``fuse.py`` finds and groups them, ``codegen.py`` writes the kernels); ``counters`` counts the
kernels generated and the fused launches. ``python -m ttorch._inductor.aot_check`` (``TRITON_INTERPRET=0``)
compiles the kernels of a few models for sm_80 and sm_90 and reports spills.
"""
from .fuse import compile_fx
from .codegen import counters

__all__ = ["compile_fx", "counters"]
