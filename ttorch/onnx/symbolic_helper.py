"""Helpers for custom symbolic functions (PyTorch's ``torch.onnx.symbolic_helper``, the part ported code uses)."""
__all__ = ["parse_args"]


def parse_args(*arg_descriptors):
    """Decorator PyTorch's symbolics use to turn graph constants into Python values ("v", "i", "f", "b", "is"...).

    ttorch's exporter already hands symbolics their non-tensor arguments as Python values, so the decorated
    function is returned as it is.
    """
    def deco(fn):
        return fn
    return deco
