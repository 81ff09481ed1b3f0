"""``ttorch.jit``: TorchScript's Python API, run eagerly.

ttorch has no TorchScript: nothing is compiled to a graph. ``script`` and ``trace`` return the
function or module they are given (``trace`` first runs it once on the example inputs, with
``is_tracing()`` true, and checks its outputs are tensors as PyTorch's tracer requires), and the
decorators (``ignore``, ``unused``, ``export``, ``interface``...) mark and return their argument.
So ported code runs as plain Python with the same results; what is lost is the graph itself
(``.graph``, ``.code``) and the speed a fused graph may bring. ``isinstance(m, ScriptModule)`` is
false for a "scripted" module, which sends code that branches on it down its eager path.

``save`` writes the module with Python's pickle (its class must be importable where it is loaded,
as for ``torch.save`` of a whole module), not a TorchScript archive; ``load`` reads such files back
and, like ``torch.load(weights_only=False)``, runs code: load only files you trust. Archives
written by PyTorch's ``torch.jit.save`` hold TorchScript code and are refused.
"""
import contextlib
import io
import os
import pickle
import typing
import warnings
import zipfile

from .._tensor import Tensor
from ..nn import Module
from ._future import Future, fork, wait

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "is_scripting", "is_tracing", "Final",
           "annotate", "interface", "script_if_tracing", "fork", "wait", "Future", "save", "load", "freeze",
           "optimize_for_inference", "ScriptModule", "ScriptFunction", "script_method", "Attribute", "Error",
           "isinstance"]

Final = typing.Final
Error = RuntimeError     # torch.jit.Error: what a failing TorchScript raise becomes
_builtin_isinstance = isinstance
_tracing = [0]


class ScriptModule(Module):
    """Base class of TorchScript modules; subclasses here are ordinary modules run eagerly."""

    def __setattr__(self, name, value):
        if _builtin_isinstance(value, Attribute):   # a typed attribute holds its value, as after scripting
            value = value.value
        super().__setattr__(name, value)


class ScriptFunction:
    """The type of a TorchScript function. ``script`` returns plain functions in ttorch, so none is made."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("ScriptFunction cannot be constructed directly: ttorch.jit.script returns the function")


class Attribute(typing.NamedTuple):
    """``Attribute(value, type)``: a typed attribute of a ``ScriptModule``; eagerly just its value pair."""
    value: typing.Any
    type: typing.Any


def is_scripting():
    """True inside TorchScript-compiled code: never in ttorch, which runs everything eagerly."""
    return False


def is_tracing():
    """True while ``trace`` runs the function on its example inputs."""
    return _tracing[0] > 0 and not is_scripting()


def _check_traced_output(out):
    if _builtin_isinstance(out, Tensor):
        return
    if _builtin_isinstance(out, (list, tuple)):
        for o in out:
            _check_traced_output(o)
        return
    if _builtin_isinstance(out, dict):
        for o in out.values():
            _check_traced_output(o)
        return
    raise RuntimeError("Only tensors, lists, tuples of tensors, or dictionary of tensors can be output from "
                       "traced functions")


@contextlib.contextmanager
def _tracing_scope():
    _tracing[0] += 1
    try:
        yield
    finally:
        _tracing[0] -= 1


def _run_example(fn, example_inputs, example_kwarg_inputs):
    with _tracing_scope():
        if example_kwarg_inputs is not None:
            if not _builtin_isinstance(example_kwarg_inputs, dict):
                raise RuntimeError("example_kwarg_inputs should be a dict")
            out = fn(**example_kwarg_inputs)
        else:
            # a tensor or dict is the one argument; other iterables (lists) spread, as in PyTorch
            args = (example_inputs,) if _builtin_isinstance(example_inputs, (Tensor, dict)) else tuple(example_inputs)
            out = fn(*args)
    _check_traced_output(out)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
          strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs=True):
    """Run ``func`` (a function or ``nn.Module``) once on ``example_inputs`` and return it unchanged.

    The run happens with ``is_tracing()`` true and must return tensors (or lists, tuples, dicts of
    them), as PyTorch's tracer requires; no graph is recorded, so data-dependent control flow keeps
    working (PyTorch would freeze the branch taken).

    Example::

        >>> f = ttorch.jit.trace(lambda x: x * 2, ttorch.ones(2))
        >>> f(ttorch.ones(1)).tolist()
        [2.0]
    """
    if optimize is not None:
        warnings.warn("`optimize` is deprecated and has no effect. Use `with torch.jit.optimized_execution()` "
                      "instead", FutureWarning, stacklevel=2)
    if _builtin_isinstance(getattr(func, "__self__", None), Module):
        raise AttributeError("trace doesn't support compiling individual module's functions.\n"
                             "Please use trace_module")
    _run_example(func, example_inputs, example_kwarg_inputs)
    return func


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None, check_tolerance=1e-5,
                 strict=True, _force_outplace=False, _module_class=None, _compilation_unit=None,
                 example_inputs_is_kwarg=False, _store_inputs=True):
    """Run each method named in ``inputs`` (``{"forward": example_inputs, ...}``) once; return ``mod``."""
    if not _builtin_isinstance(mod, Module):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not _builtin_isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    for name, example in inputs.items():
        method = mod if name == "forward" else getattr(mod, name)
        if example_inputs_is_kwarg:
            _run_example(method, None, example)
        else:
            _run_example(method, example, None)
    return mod


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Return ``obj`` (function, ``nn.Module`` or class) unchanged: it runs as Python, eagerly.

    Example::

        >>> @ttorch.jit.script
        ... def f(x):
        ...     return x + 1
        >>> f(ttorch.tensor(1)).item()
        2
    """
    if optimize is not None:
        warnings.warn("`optimize` is deprecated and has no effect. Use `with torch.jit.optimized_execution()` "
                      "instead", FutureWarning, stacklevel=2)
    if _builtin_isinstance(obj, type) and issubclass(obj, Module):
        raise RuntimeError(f"Type '{obj}' cannot be compiled since it inherits from nn.Module, pass an instance "
                           "instead")
    if not callable(obj):
        if type(obj).__module__ == "builtins":
            raise TypeError(f"{type(obj)} is a built-in class")
        raise RuntimeError(f"Type '{type(obj)}' cannot be compiled")
    return obj


def script_method(fn):
    """Mark a ``ScriptModule`` method for compilation: returns it, to run eagerly."""
    return fn


def script_if_tracing(fn):
    """Compile ``fn`` only when it is called while tracing; eagerly there is nothing to do: returns ``fn``."""
    return fn


def _modifier(fn, name):
    fn._torchscript_modifier = name
    return fn


def ignore(drop=False, **kwargs):
    """Leave a function to Python (``@ignore`` or ``@ignore(drop=True)``); all functions are Python here."""
    if callable(drop):   # used bare: @torch.jit.ignore
        return _modifier(drop, "ignore")
    if not _builtin_isinstance(drop, bool):
        raise RuntimeError(f"Argument to @torch.jit.ignore must be a bool or a function but got {drop}")
    drop = drop or kwargs.pop("drop_on_export", False)

    def decorator(fn):
        return _modifier(fn, "unused" if drop else "ignore")
    return decorator


def unused(fn):
    """Mark ``fn`` as never called from TorchScript; eagerly it stays callable. Properties work too."""
    if _builtin_isinstance(fn, property):
        if fn.fget is not None:
            _modifier(fn.fget, "unused")
        return fn
    return _modifier(fn, "unused")


def export(fn):
    """Mark a module's method to be compiled besides ``forward``; returns it."""
    return _modifier(fn, "export")


def interface(obj):
    """Declare a TorchScript interface class; returns the class."""
    if not _builtin_isinstance(obj, type):
        raise RuntimeError("interface must be applied to a class")
    return obj


def annotate(the_type, the_value):
    """Give ``the_value`` a TorchScript type; eagerly returns ``the_value``."""
    return the_value


def isinstance(obj, target_type):
    """``isinstance`` that also understands ``List[int]``, ``Dict[str, Tensor]``, ``Optional[...]``, ``Tuple``."""
    origin, args = typing.get_origin(target_type), typing.get_args(target_type)
    if origin is None:
        return _builtin_isinstance(obj, target_type)
    if origin is typing.Union:
        return any(isinstance(obj, t) for t in args)
    if not _builtin_isinstance(obj, origin):
        return False
    if origin in (list, set, frozenset):
        return not args or all(isinstance(o, args[0]) for o in obj)
    if origin is dict:
        return not args or all(isinstance(k, args[0]) and isinstance(v, args[1]) for k, v in obj.items())
    if origin is tuple:
        if not args:
            return True
        if len(args) == 2 and args[1] is Ellipsis:
            return all(isinstance(o, args[0]) for o in obj)
        return len(args) == len(obj) and all(isinstance(o, t) for o, t in zip(obj, args))
    return True


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """Inline parameters as constants (PyTorch); eagerly, checks eval mode and returns ``mod``."""
    if not _builtin_isinstance(mod, Module):
        raise RuntimeError("Freezing expects a ScriptModule as input. Please use torch.jit.script or "
                           "torch.jit.trace to script your 'nn.Module'.")
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. Please call .eval() "
                           "on your module before freezing.")
    return mod


def optimize_for_inference(mod, other_methods=None):
    """``mod`` switched to eval mode and frozen (PyTorch's order); no graph rewrites happen here."""
    if not _builtin_isinstance(mod, Module):
        raise RuntimeError("optimize_for_inference expects a ScriptModule as input. Please use torch.jit.script "
                           "or torch.jit.trace to script your 'nn.Module'.")
    return freeze(mod.eval()) if mod.training else freeze(mod)


_MAGIC = b"TTORCH-JIT\x00"   # starts every file ``save`` writes


def save(m, f, _extra_files=None):
    """Write module or function ``m`` (pickled) to path or file ``f``; ``_extra_files`` maps names to contents."""
    payload = _MAGIC + pickle.dumps({"module": m, "extra_files": dict(_extra_files or {})},
                                    protocol=pickle.HIGHEST_PROTOCOL)
    if _builtin_isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(payload)
    else:
        f.write(payload)


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    """Read what ``save`` wrote; fills ``_extra_files`` (a dict of names) in place with bytes, as PyTorch does.

    Args:
        map_location (str or device, optional): device to move the module to.
    """
    if _builtin_isinstance(f, (str, os.PathLike)):
        if not os.path.exists(f):
            raise ValueError(f"The provided filename {f} does not exist")
        if os.path.isdir(f):
            raise ValueError(f"The provided filename {f} is a directory")
        with open(f, "rb") as fh:
            data = fh.read()
    else:
        data = f.read()
    if not data.startswith(_MAGIC):
        if zipfile.is_zipfile(io.BytesIO(data)):
            raise RuntimeError("This is a TorchScript archive written by PyTorch: ttorch cannot run TorchScript code. "
                               "Save the model's state_dict with torch.save and load it into the Python module.")
        raise RuntimeError("ttorch.jit.load: not a file written by ttorch.jit.save")
    obj = pickle.loads(data[len(_MAGIC):])
    m = obj["module"]
    if _extra_files is not None:
        for name in list(_extra_files):   # contents come back as bytes; names not saved as b"" (PyTorch's rule)
            value = obj["extra_files"].get(name, b"")
            _extra_files[name] = value.encode() if _builtin_isinstance(value, str) else bytes(value)
    if map_location is not None and _builtin_isinstance(m, Module):
        m = m.to(map_location)
    return m


def optimized_execution(should_optimize):
    """Context manager toggling graph optimizations; eager execution has none to toggle."""
    return contextlib.nullcontext()
