"""Operator schemas: PyTorch's schema strings (``(Tensor x, float y) -> Tensor``) inferred from type hints
(``infer_schema``) and parsed back (``parse_schema``) into what the dispatcher of ``_custom_op.py`` needs: each
argument's name, type, default, whether it is keyword-only and whether the op writes into it (``Tensor(a!)``).
"""
import collections.abc
import inspect
import typing
from types import GenericAlias, UnionType

from .._dtype import dtype as _dtype
from .._device import device as _device
from .._tensor import Tensor
from ..types import Number

__all__ = ["infer_schema", "parse_schema", "Schema", "Argument"]


def _derived(base, name, lists, optional_items, optional_list):
    """The annotations that map to ``name`` and its list / optional forms, as PyTorch's table has them."""
    out = [(base, name), (typing.Optional[base], f"{name}?")]

    def seqs(t):
        return (typing.Sequence[t], typing.List[t], GenericAlias(collections.abc.Sequence, (t,)),   # noqa: UP006
                GenericAlias(list, (t,)))
    if lists:
        out += [(s, f"{name}[]") for s in seqs(base)]
    if optional_items:
        out += [(s, f"{name}?[]") for s in seqs(typing.Optional[base])]
    if optional_list:
        out += [(typing.Optional[s], f"{name}[]?") for s in seqs(base)]
    return out


_PARAM_TYPES = dict(
    _derived(Tensor, "Tensor", True, True, False) + _derived(int, "SymInt", True, False, True)
    + _derived(float, "float", True, False, True) + _derived(bool, "bool", True, False, True)
    + _derived(str, "str", False, False, False) + _derived(Number, "Scalar", True, False, False)
    + _derived(_dtype, "ScalarType", False, False, False) + _derived(_device, "Device", False, False, False))
_RETURN_TYPES = {Tensor: "Tensor", typing.List[Tensor]: "Tensor[]", list[Tensor]: "Tensor[]",     # noqa: UP006
                 int: "SymInt", float: "float", bool: "bool", Number: "Scalar"}


def infer_schema(prototype_function, /, *, mutates_args, op_name=None, tags=None):
    """PyTorch's schema string of a function from its type hints.

    Args:
        prototype_function: the function, every parameter annotated (``Tensor``, ``int``, ``float``, ``bool``,
            ``str``, ``Number``, ``dtype``, ``device``, their ``Optional``/``list`` forms).
        mutates_args ("unknown" or iterable of str): the parameters the function writes into.
        op_name (str, optional): the name to put in front of the schema.

    Example::

        >>> import ttorch
        >>> def f(x: ttorch.Tensor, y: float) -> ttorch.Tensor: ...
        >>> ttorch.library.infer_schema(f, mutates_args=())
        '(Tensor x, float y) -> Tensor'
    """
    sig = inspect.signature(prototype_function)
    if type(mutates_args) is not str:
        mutates_args = tuple(mutates_args)
    elif mutates_args != "unknown":
        raise ValueError("mutates_args must either be a sequence of the names of the arguments that are mutated or "
                         "the string 'unknown'. ")

    def error(what):
        raise ValueError(f"infer_schema(func): {what} Got func with signature {sig})")

    def resolve(ann):
        # string annotations ('from __future__ import annotations', "Tensor"): "Tensor", "dtype" and "device"
        # without a module mean ttorch's, as PyTorch reads them as torch's
        if isinstance(ann, str):
            scope = {"Tensor": Tensor, "dtype": _dtype, "device": _device, "Optional": typing.Optional,
                     "List": typing.List, "Sequence": typing.Sequence, "Union": typing.Union}   # noqa: UP006
            scope.update(prototype_function.__globals__)
            try:
                return eval(ann, scope)
            except Exception as e:
                error(f"Unsupported type annotation {ann}. It is not a type. ({type(e).__name__}: {e})")
        origin = typing.get_origin(ann)
        if origin is not None and any(isinstance(a, str) for a in typing.get_args(ann)):
            args = tuple(resolve(a) for a in typing.get_args(ann))
            return typing.Union[args] if origin in (typing.Union, UnionType) else GenericAlias(origin, args)
        return ann

    params, seen, kwarg_only = [], set(), False
    for idx, (name, p) in enumerate(sig.parameters.items()):
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            error("We do not support positional-only args, varargs, or varkwargs.")
        if p.kind == p.KEYWORD_ONLY and not kwarg_only:
            params.append("*")
            kwarg_only = True
        if p.annotation is p.empty:
            error(f"Parameter {name} must have a type annotation.")
        ann = resolve(p.annotation)
        try:
            schema_type = _PARAM_TYPES.get(ann)
        except TypeError:       # an unhashable annotation
            schema_type = None
        if schema_type is None:
            if typing.get_origin(ann) is tuple:
                items = typing.get_args(ann)
                hint = f"For example, list[{items[0].__name__}].\n\n" if items and all(
                    i is items[0] for i in items) and hasattr(items[0], "__name__") else "\n\n"
                error(f"Parameter {name} has unsupported type {p.annotation}. We do not support Tuple inputs in "
                      f"schema. As a workaround, please try to use List instead. {hint}The valid types are: "
                      f"{_PARAM_TYPES.keys()}.")
            error(f"Parameter {name} has unsupported type {p.annotation}. The valid types are: "
                  f"{_PARAM_TYPES.keys()}.")
        mutated = mutates_args == "unknown" and schema_type.startswith("Tensor")
        if type(mutates_args) is not str and name in mutates_args:
            if not schema_type.startswith("Tensor"):
                error(f"Parameter {name} is in mutable_args but only Tensors or collections of Tensors can be "
                      "mutated")
            mutated = True
        if mutated:
            schema_type = f"Tensor(a{idx}!){schema_type[len('Tensor'):]}"
        seen.add(name)
        if p.default is p.empty:
            params.append(f"{schema_type} {name}")
        else:
            d = p.default
            if d is None or isinstance(d, (int, float, bool)):
                rep = str(d)
            elif isinstance(d, (str, _device)):
                rep = f'"{d}"'
            elif isinstance(d, _dtype):
                rep = str(d).split(".")[-1]
            else:
                error(f"Parameter {name} has an unsupported default value type {type(d)}. Please file an issue on "
                      "GitHub so we can prioritize this.")
            params.append(f"{schema_type} {name}={rep}")
    if mutates_args != "unknown":
        missing = set(mutates_args) - seen
        if missing:
            error(f"{missing} in mutates_args were not found in the custom op's signature. mutates_args should "
                  "contain the names of all args that the custom op mutates, or just the string 'unknown' if you "
                  "don't know.")
    ret = _parse_return(resolve(sig.return_annotation), error)
    return f"{op_name or ''}({', '.join(params)}) -> {ret}"


def _parse_return(ann, error):
    if ann is None:
        return "()"
    if ann is inspect.Parameter.empty:
        error("No return type annotation was provided. Please add one.")
    if typing.get_origin(ann) is not tuple:
        if ann not in _RETURN_TYPES:
            error(f"Return has unsupported type {ann}. The valid types are: {_RETURN_TYPES}.")
        return _RETURN_TYPES[ann]
    args = typing.get_args(ann)
    for a in args:
        if a not in _RETURN_TYPES:
            error(f"Return has unsupported type {ann}. The valid types are: {_RETURN_TYPES}.")
    out = ", ".join(_RETURN_TYPES[a] for a in args)
    return f"(({out}))" if len(args) == 1 else f"({out})"     # PyTorch writes a 1-tuple as ((T))


class Argument:
    """One argument of a schema: ``type`` without its alias annotation, ``mutable`` for ``Tensor(a!)``."""

    __slots__ = ("name", "type", "default", "has_default", "kwarg_only", "mutable", "text")

    def __init__(self, name, type, default, has_default, kwarg_only, mutable, text):
        self.name, self.type, self.default, self.has_default = name, type, default, has_default
        self.kwarg_only, self.mutable, self.text = kwarg_only, mutable, text

    @property
    def is_tensor(self):
        return self.type.startswith("Tensor")

    def __repr__(self):
        return self.text


class Schema:
    """A parsed schema string: ``name`` (may be empty), ``arguments`` and ``returns`` (type strings)."""

    def __init__(self, name, arguments, returns, text):
        self.name, self.arguments, self.returns, self._text = name, arguments, returns, text

    @property
    def is_mutable(self):
        return any(a.mutable for a in self.arguments)

    def __str__(self):
        return self._text

    def __repr__(self):
        return self._text

    def bind(self, opname, args, kwargs):
        """Positional and keyword-only values, defaults filled; PyTorch's RuntimeErrors for a bad call."""
        names = [a.name for a in self.arguments]
        pos = [a for a in self.arguments if not a.kwarg_only]
        if len(args) > len(pos) or any(k not in names for k in kwargs) or \
                any(a.name in kwargs for a in pos[:len(args)]):
            raise RuntimeError(f"{opname}() expected at most {len(names)} argument(s) but received "
                               f"{len(args) + len(kwargs)} argument(s). Declaration: {self._text}")
        values = dict(zip([a.name for a in pos], args))
        values.update(kwargs)
        for a in self.arguments:
            if a.name not in values:
                if not a.has_default:
                    raise RuntimeError(f"{opname}() is missing value for argument '{a.name}'. Declaration: "
                                       f"{self._text}")
                values[a.name] = a.default
        return values


def _split(s):
    """Split at top-level commas (not inside brackets)."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur.strip())
    return parts


def _default(text):
    if text == "None":
        return None
    if text in ("True", "False"):
        return text == "True"
    if text.startswith('"') or text.startswith("'"):
        return text[1:-1]
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        pass
    if text.startswith("["):
        return [_default(t) for t in _split(text[1:-1])]
    from .. import _dtype as D
    dt = getattr(D, text, None)
    if isinstance(dt, _dtype):
        return dt
    return text


def parse_schema(text):
    """Parse ``name(args) -> returns`` or ``(args) -> returns``; raises RuntimeError on a malformed one."""
    s = text.strip()
    try:
        head, ret = s.rsplit("->", 1)
        head = head.strip()
        open_ = head.index("(")
        if not head.endswith(")"):
            raise ValueError
    except ValueError:
        raise RuntimeError(f"Expected a schema like 'name(Tensor x) -> Tensor', got: {text!r}") from None
    name = head[:open_].strip()
    arguments, kwarg_only = [], False
    for part in _split(head[open_ + 1:-1]):
        if part == "*":
            kwarg_only = True
            continue
        decl, eq, dflt = part.partition("=")
        bits = decl.split()
        if len(bits) != 2:
            raise RuntimeError(f"Could not parse the argument {part!r} of schema {text!r}")
        typ, argname = bits
        mutable = "!" in typ
        default = _default(dflt.strip()) if eq else None
        arguments.append(Argument(argname, _strip_alias(typ), default, bool(eq), kwarg_only, mutable, part))
    ret = ret.strip()
    returns = _split(ret[1:-1]) if ret.startswith("(") else [ret]
    # the return types alone: alias annotations ("Tensor(a!)") and names ("Tensor values") dropped
    returns = [_strip_alias(r.split()[0]) if not r.startswith("(") else r for r in returns if r]
    return Schema(name, arguments, returns, s)


def _strip_alias(typ):
    return typ.split("(")[0] + typ.split(")")[-1] if "(" in typ else typ
