"""Primitive ops. Each module defines its ops through the contract in ``_op.py``; this package
collects their public functions (``__all__``/``PUBLIC``) for the ``ttorch`` namespace and their
methods (``METHODS``) for ``Tensor``. ``python -m ttorch.ops`` lists and compiles them.
"""
import importlib

from ._op import REGISTRY, Op

MODULES = ["elementwise", "unary", "act_backward", "binary", "binary_more", "frexp", "ternary", "reduction", "softmax",
           "scan", "matmul", "einsum", "linear", "movement", "views", "gather", "indexing", "sort", "creation",
           "random", "compare", "layer_norm", "batch_norm", "cross_entropy", "attention", "pool", "foreach", "linalg",
           "linalg_solve", "linalg_lu", "linalg_composed", "frequency", "differences", "search", "composed", "aliases",
           "complex", "complex_math", "complex_linalg", "complex_scan", "complex_decomp", "complex_conv",
           "complex_composed", "windows", "scatters", "special_fns", "bessel", "zeta",
           "incomplete_gamma", "polynomials", "airy", "fft", "stft", "ldl", "householder",
           "float8", "scaled_mm", "grouped_mm", "unsigned", "qgemm"]

FUNCTIONS = {}
METHODS = {}

for _name in MODULES:
    _m = importlib.import_module(f".{_name}", __name__)
    for _f in getattr(_m, "__all__", []):
        FUNCTIONS[_f] = getattr(_m, _f)
    FUNCTIONS.update(getattr(_m, "PUBLIC", {}))
    METHODS.update(getattr(_m, "METHODS", {}))


def __getattr__(name):
    """``ttorch.ops.<namespace>``: the operators ``ttorch.library`` defined there (as ``torch.ops.mylib``).
    Only names this package does not hold itself get here; private names stay AttributeErrors."""
    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib.util
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:     # a submodule not imported yet:
        return importlib.import_module(f"{__name__}.{name}")          # ``from ttorch.ops import conv``
    from ..library import _namespace
    return _namespace(name)
