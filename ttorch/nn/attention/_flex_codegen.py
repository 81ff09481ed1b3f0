"""Tracing flex_attention's ``score_mod`` / ``mask_mod`` into Triton expressions.

A mod is called once with proxy values (``_Expr``) for the score and the indices ``b``, ``h``
(scalars in the kernel), ``q_idx`` (a column) and ``kv_idx`` (a row). Each operation on a proxy appends
one SSA line of Triton source; a captured tensor indexed by proxies (``bias[h]``, ``doc[q_idx]``,
``table[h, q_idx - kv_idx]``) or used whole (a 0-d tensor) becomes a pointer argument with its strides
and sizes, loaded by index (out-of-range indices read 0: PyTorch would raise). While tracing, the ttorch
functions a mod may call (``ttorch.where``, ``ttorch.exp``, ...) and ``Tensor.__getitem__`` accept
proxies; anything else (a Python ``if`` on a proxy, ``.item()``, an unknown function or method) raises
``Unsupported`` and flex_attention runs the composite instead.

Kinds follow PyTorch's promotion for these mods: bool < int < float; floats are computed in float32
(the composite's working precision), integer ``//`` and ``%`` floor as Python's (Triton's truncate).
"""
import threading

__all__ = ["Unsupported", "trace_mod"]


class Unsupported(Exception):
    """The mod uses something the tracer can't turn into Triton."""


_LOCK = threading.Lock()
_KIND = {"b": 0, "i": 1, "f": 2}


class _Trace:
    def __init__(self):
        self.lines = []         # (is a derivative line, source line)
        self.caps = []          # captured tensors, in argument order
        self.n = 0
        self.no_grad = False    # a float op without a derivative rule was traced
        self.sites = []         # loads of captured tensors that need a gradient: (capture, offset, in range)
        self.wrt = None         # None: derivatives with respect to the score; k: to site k's loaded value

    def emit(self, code, kind, d=None):
        """A new SSA value ``code``; ``d``: its derivative with respect to the score (None: 0)."""
        name = f"t{self.n}"
        self.n += 1
        self.lines.append((False, f"{name} = {code}"))
        e = _Expr(self, name, kind)
        if d is not None and kind == "f":
            self.lines.append((True, f"d{name} = {d}"))
            e.d = f"d{name}"
        return e

    def nograd(self, *xs):
        """Mark the trace non-differentiable when an operand of a rule-less float op carries a derivative."""
        if any(isinstance(x, _Expr) and x.d is not None for x in xs):
            self.no_grad = True

    def cap(self, t):
        for i, c in enumerate(self.caps):
            if c is t:
                return i
        self.caps.append(t)
        return len(self.caps) - 1


def _kind_of_dtype(dt):
    if dt.is_floating_point:
        return "f"
    if dt.is_complex:
        raise Unsupported("complex captured tensor")
    return "b" if dt.name == "bool" else "i"


def _const(x):
    """(code, kind) of a Python scalar."""
    if isinstance(x, bool):
        return ("True" if x else "False"), "b"
    if isinstance(x, int):
        if not -2 ** 31 <= x < 2 ** 31:
            raise Unsupported("integer constant past int32")
        return repr(x), "i"
    if isinstance(x, float):
        return (repr(x) if x == x and abs(x) != float("inf") else f"float('{x}')"), "f"
    raise Unsupported(f"constant of type {type(x).__name__}")


class _Expr:
    """A traced value: ``code`` is its Triton name, ``kind`` 'b', 'i' or 'f'."""

    __slots__ = ("tr", "code", "kind", "d")
    __array_priority__ = 1000

    def __init__(self, tr, code, kind, d=None):
        self.tr, self.code, self.kind, self.d = tr, code, kind, d

    # ---- operands
    def _coerce(self, other):
        """A 0-d captured tensor as its load (so its derivative travels); anything else as it is."""
        from ..._tensor import Tensor
        if isinstance(other, Tensor):
            if other.dim() != 0:
                raise Unsupported("a captured tensor used whole must be 0-d")
            return _load(self.tr, other, [])
        return other

    def _op(self, other):
        from ..._tensor import Tensor
        if isinstance(other, _Expr):
            return other.code, other.kind
        if type(other) is Tensor or isinstance(other, Tensor):
            if other.dim() != 0:
                raise Unsupported("a captured tensor used whole must be 0-d")
            e = _load(self.tr, other, [])
            return e.code, e.kind
        return _const(other)

    def _arith(self, other, fmt, reverse=False):
        other = self._coerce(other)
        oc, ok = self._op(other)
        a, b = (oc, self.code) if reverse else (self.code, oc)
        ka, kb = (ok, self.kind) if reverse else (self.kind, ok)
        kind = "f" if "f" in (ka, kb) else "i"
        if kind == "f":
            a, b = _f(a, ka), _f(b, kb)
        else:
            a, b = _i(a, ka), _i(b, kb)
        od = other.d if isinstance(other, _Expr) else None
        da, db = (od, self.d) if reverse else (self.d, od)
        op = fmt.split()[1]
        if op == "*":
            d = _dsum(_dmul(da, b), _dmul(db, a))
        else:
            d = _dsum(da, db if op == "+" else _dneg(db))
        return self.tr.emit(fmt.format(a=a, b=b), kind, d)

    def __add__(self, o): return self._arith(o, "{a} + {b}")
    def __radd__(self, o): return self._arith(o, "{a} + {b}", True)
    def __sub__(self, o): return self._arith(o, "{a} - {b}")
    def __rsub__(self, o): return self._arith(o, "{a} - {b}", True)
    def __mul__(self, o): return self._arith(o, "{a} * {b}")
    def __rmul__(self, o): return self._arith(o, "{a} * {b}", True)

    def __truediv__(self, o):
        return self._fdiv(o, False)

    def __rtruediv__(self, o):
        return self._fdiv(o, True)

    def _fdiv(self, o, rev):
        o = self._coerce(o)
        oc, ok = self._op(o)
        a, b = (_f(oc, ok), _f(self.code, self.kind)) if rev else (_f(self.code, self.kind), _f(oc, ok))
        od = o.d if isinstance(o, _Expr) else None
        da, db = (od, self.d) if rev else (self.d, od)
        d = _dsum(_dmul(da, f"(1.0 / {b})"), _dmul(db, f"(-({a}) / (({b}) * ({b})))"))
        return self.tr.emit(f"{a} / {b}", "f", d)

    def __floordiv__(self, o): return self._intfn(o, "_floordiv", False, "tl.floor({a} / {b})")
    def __rfloordiv__(self, o): return self._intfn(o, "_floordiv", True, "tl.floor({a} / {b})")
    def __mod__(self, o): return self._intfn(o, "_pymod", False, "{a} - tl.floor({a} / {b}) * {b}")
    def __rmod__(self, o): return self._intfn(o, "_pymod", True, "{a} - tl.floor({a} / {b}) * {b}")

    def _intfn(self, o, fn, rev, ffmt):
        oc, ok = self._op(o)
        a, b, ka, kb = (oc, self.code, ok, self.kind) if rev else (self.code, oc, self.kind, ok)
        if "f" in (ka, kb):
            if fn == "_pymod":      # (a float remainder's derivative: no rule)
                self.tr.nograd(self, o)
            return self.tr.emit(ffmt.format(a=f"({_f(a, ka)})", b=f"({_f(b, kb)})"), "f")
        return self.tr.emit(f"{fn}({_i(a, ka)}, {_i(b, kb)})", "i")

    def __pow__(self, o):
        if isinstance(o, int) and not isinstance(o, bool) and 0 <= o <= 8:
            if o == 0:
                kind = "f" if self.kind == "f" else "i"
                return self.tr.emit(_full(1, kind), kind)
            d = _dmul(self.d, " * ".join([f"{o}.0"] + [f"({self.code})"] * (o - 1)))
            return self.tr.emit(" * ".join([f"({self.code})"] * o), self.kind if self.kind != "b" else "i", d)
        if isinstance(o, (int, float)) and not isinstance(o, bool):      # x ** c = exp2(c log2 x), x > 0
            x = _f(self.code, self.kind)
            d = _dmul(self.d, f"{float(o)!r} * tl.exp2({float(o) - 1!r} * tl.log2({x}))")
            return self.tr.emit(f"tl.exp2({float(o)!r} * tl.log2({x}))", "f", d)
        raise Unsupported("** with a non-constant exponent")

    def __neg__(self):
        return self.tr.emit(f"-({_i(self.code, self.kind) if self.kind == 'b' else self.code})",
                            "i" if self.kind == "b" else self.kind, _dneg(self.d))

    def __pos__(self):
        return self

    def __abs__(self):
        d = None if self.d is None else \
            f"tl.where({self.code} > 0, {self.d}, tl.where({self.code} < 0, -{self.d}, 0.0))"
        return self.tr.emit(f"tl.abs({self.code})", self.kind, d)

    # ---- comparisons and logic
    def _cmp(self, other, op):
        oc, ok = self._op(other)
        a, b = self.code, oc
        if "f" in (self.kind, ok):
            a, b = _f(a, self.kind), _f(b, ok)
        # "!= 0": under the interpreter a scalar's comparison (an index of b or h, a value loaded by one)
        # comes back as a NumPy scalar that & with a block rejects; compiled, it folds away
        return self.tr.emit(f"({a} {op} {b}) != 0", "b")

    def __lt__(self, o): return self._cmp(o, "<")
    def __le__(self, o): return self._cmp(o, "<=")
    def __gt__(self, o): return self._cmp(o, ">")
    def __ge__(self, o): return self._cmp(o, ">=")
    def __eq__(self, o): return self._cmp(o, "==")
    def __ne__(self, o): return self._cmp(o, "!=")
    __hash__ = object.__hash__

    def _logic(self, other, op, rev=False):
        oc, ok = self._op(other)
        if "f" in (self.kind, ok):
            raise Unsupported("bitwise op on floats")
        kind = "b" if self.kind == ok == "b" else "i"
        a, b = (oc, self.code) if rev else (self.code, oc)
        return self.tr.emit(f"{a} {op} {b}", kind)

    def __and__(self, o): return self._logic(o, "&")
    def __rand__(self, o): return self._logic(o, "&", True)
    def __or__(self, o): return self._logic(o, "|")
    def __ror__(self, o): return self._logic(o, "|", True)
    def __xor__(self, o): return self._logic(o, "^")
    def __rxor__(self, o): return self._logic(o, "^", True)

    def __invert__(self):
        if self.kind == "b":
            return self.tr.emit(f"{self.code} == 0", "b")
        if self.kind == "i":
            return self.tr.emit(f"~{self.code}", "i")
        raise Unsupported("~ on a float")

    def __bool__(self):
        raise Unsupported("Python control flow on a traced value (use ttorch.where)")

    def __index__(self):
        raise Unsupported("a traced value used as a Python int")

    __int__ = __float__ = __index__

    def __getattr__(self, name):
        if name.startswith("__"):       # protocol probes (NumPy's, copy's): absent, as for any object
            raise AttributeError(name)
        fn = _METHODS.get(name)
        if fn is None:
            raise Unsupported(f"method {name} of a traced value")
        return lambda *a, **k: fn(self, *a, **k)

    # ---- tensor-like metadata a mod may read
    @property
    def device(self):
        return self.tr.device

    @property
    def dtype(self):
        import ttorch as T
        return {"b": T.bool, "i": T.int64, "f": T.float32}[self.kind]

    def dim(self):
        return 0

    @property
    def shape(self):
        return ()


def _dsum(*terms):
    terms = [t for t in terms if t is not None]
    return " + ".join(f"({t})" for t in terms) if terms else None


def _dmul(d, factor):
    return None if d is None else f"({d}) * ({factor})"


def _dneg(d):
    return None if d is None else f"-({d})"


def _full(value, kind):
    """A (1, 1) tensor of a constant (it broadcasts against the index grid, so a mod's result is a tensor)."""
    code = {"b": "True" if value else "False", "i": str(int(value)), "f": repr(float(value))}[kind]
    return f"tl.full([1, 1], {code}, {dict(b='tl.int1', i='tl.int32', f='tl.float32')[kind]})"


def _literal(code):
    """The Python value of a constant's code, or None for a traced value's name."""
    if code in ("True", "False"):
        return code == "True"
    try:
        return int(code)
    except ValueError:
        return None


def _f(code, kind):
    if kind == "f":
        return code
    lit = _literal(code)          # (a Python constant has no .to(): write it as a float literal)
    return repr(float(lit)) if lit is not None else f"({code}).to(tl.float32)"


def _i(code, kind):
    if kind != "b":
        return code
    lit = _literal(code)
    return str(int(lit)) if lit is not None else f"({code}).to(tl.int32)"


def _load(tr, t, idx):
    """A load of captured tensor ``t`` at index proxies/ints ``idx`` (one per leading dim)."""
    if t.device != tr.device:
        raise Unsupported("a captured tensor on another device")
    if len(idx) > t.dim():
        raise Unsupported("too many indices")
    if len(idx) < t.dim():
        raise Unsupported("indexing leaves whole dims (a non-scalar result)")
    j = tr.cap(t)
    off, ok = [], []
    for d, i in enumerate(idx):
        if isinstance(i, _Expr):
            if i.kind == "f":
                raise Unsupported("float index")
            c = _i(i.code, i.kind)
        elif isinstance(i, int):
            c = repr(i)
        else:
            raise Unsupported(f"index of type {type(i).__name__}")
        c = tr.emit(f"{c} + ({c} < 0) * c{j}_n{d}", "i").code     # negative indices count from the end
        off.append(f"{c} * c{j}_s{d}")
        ok.append(f"({c} >= 0) & ({c} < c{j}_n{d})")
    kind = _kind_of_dtype(t.dtype)
    o = tr.emit(" + ".join(off) if off else "0", "i").code
    # (None: a 0-d tensor, always in range). "!= 0": the interpreter rejects as a load's mask the & of a
    # scalar (an index of b or h) and a block of int1 ("mask has unsupported dtype"); compiled, a no-op
    k = tr.emit(f"({' & '.join(ok)}) != 0", "b").code if ok else None
    code = f"tl.load(c{j} + {o}, mask={k}, other=0)" if k else f"tl.load(c{j} + {o})"
    if kind == "f":
        code = f"{code}.to(tl.float32)"
    elif kind == "b":
        code = f"{code} != 0"
    else:
        code = f"{code}.to(tl.int32)"
    site = None
    if kind == "f" and t.requires_grad:     # a gradient site: the backward scatters d out / d value here
        site = len(tr.sites)
        tr.sites.append((j, o, k))
    return tr.emit(code, kind, "1.0" if site is not None and site == tr.wrt else None)


def _unary(fmt, kind="f", intok=False, grad=None):
    """A float function of one value; ``grad``: its derivative in terms of ``{x}`` and ``{y}`` (the result),
    "0" for a piecewise-constant one, None for no rule."""
    def fn(x, *a, **k):
        if a or k:
            raise Unsupported("extra arguments")
        if not isinstance(x, _Expr):
            raise Unsupported("not a traced value")
        if intok and x.kind != "f":
            return x.tr.emit(fmt.format(x=_i(x.code, x.kind)), "i")
        xc = _f(x.code, x.kind)
        if x.d is None or grad == "0":
            return x.tr.emit(fmt.format(x=xc), kind)
        if grad is None:
            x.tr.nograd(x)
            return x.tr.emit(fmt.format(x=xc), kind)
        y = x.tr.emit(fmt.format(x=xc), kind)
        dname = f"d{y.code}"
        x.tr.lines.append((True, f"{dname} = ({x.d}) * ({grad.format(x=xc, y=y.code)})"))
        y.d = dname
        return y
    return fn


def _where(c, a, b):
    tr = next(x.tr for x in (c, a, b) if isinstance(x, _Expr))
    a, b = _Expr(tr, "0", "i")._coerce(a), _Expr(tr, "0", "i")._coerce(b)
    cc, ck = c._op(c) if isinstance(c, _Expr) else _Expr._op(_Expr(tr, "0", "i"), c)
    ac, ak = _Expr(tr, "0", "i")._op(a)
    bc, bk = _Expr(tr, "0", "i")._op(b)
    cc = cc if ck == "b" else f"{cc} != 0"
    kind = "f" if "f" in (ak, bk) else ("i" if "i" in (ak, bk) else "b")
    if kind == "f":
        ac, bc = _f(ac, ak), _f(bc, bk)
    da, db = (x.d if isinstance(x, _Expr) else None for x in (a, b))
    d = None if da is None and db is None else f"tl.where({cc}, {da or 0.0}, {db or 0.0})"
    return tr.emit(f"tl.where({cc}, {ac}, {bc})", kind, d)


def _binfn(name):
    def fn(a, b):
        x = a if isinstance(a, _Expr) else b
        a, b = x._coerce(a), x._coerce(b)
        ac, ak = x._op(a)
        bc, bk = x._op(b)
        kind = "f" if "f" in (ak, bk) else "i"
        if kind == "f":
            ac, bc = _f(ac, ak), _f(bc, bk)
        da, db = (y.d if isinstance(y, _Expr) else None for y in (a, b))
        d = None
        if da is not None or db is not None:        # PyTorch's: the larger (smaller) side, ties split in half
            da, db = da or 0.0, db or 0.0
            win = ">" if name == "tl.maximum" else "<"
            d = f"tl.where({ac} {win} {bc}, {da}, tl.where({ac} == {bc}, 0.5 * (({da}) + ({db})), {db}))"
        return x.tr.emit(f"{name}({_i(ac, ak)}, {_i(bc, bk)})", kind, d)
    return fn


def _clamp(x, min=None, max=None):
    y = x
    if min is not None:
        y = _binfn("tl.maximum")(y, min)
    if max is not None:
        y = _binfn("tl.minimum")(y, max)
    return y


def _to(x, *a, **k):
    dt = k.get("dtype", a[0] if a else None)
    if dt is None or isinstance(dt, str):
        raise Unsupported("to() without a dtype")
    kind = _kind_of_dtype(dt)
    if kind == x.kind:
        return x
    if kind == "f":
        return x.tr.emit(_f(x.code, x.kind), "f", x.d)
    if kind == "b":
        return x.tr.emit(f"{x.code} != 0", "b")
    return x.tr.emit(f"({x.code}).to(tl.int32)", "i")


def _new_const(value):
    def fn(x, size=(), *a, dtype=None, device=None, **k):
        if tuple(size) not in ((), (1,)) or a:
            raise Unsupported("new tensor of a non-scalar size")
        kind = _kind_of_dtype(dtype) if dtype is not None else x.kind
        return x.tr.emit(_full(value, kind), kind)
    return fn


_FUNCS = {
    "exp": _unary("tl.exp({x})", grad="{y}"), "exp2": _unary("tl.exp2({x})", grad="{y} * 0.6931471805599453"),
    "log": _unary("tl.log({x})", grad="1.0 / {x}"), "log2": _unary("tl.log2({x})", grad="1.4426950408889634 / {x}"),
    "sqrt": _unary("tl.sqrt({x})", grad="0.5 / {y}"), "rsqrt": _unary("tl.rsqrt({x})", grad="-0.5 * {y} * {y} * {y}"),
    "sin": _unary("tl.sin({x})", grad="tl.cos({x})"), "cos": _unary("tl.cos({x})", grad="-tl.sin({x})"),
    "tanh": _unary("2.0 * tl.sigmoid(2.0 * {x}) - 1.0", grad="1.0 - {y} * {y}"),
    "sigmoid": _unary("tl.sigmoid({x})", grad="{y} * (1.0 - {y})"),
    "abs": lambda x: abs(x), "floor": _unary("tl.floor({x})", grad="0"),
    "ceil": _unary("tl.ceil({x})", grad="0"), "relu": _unary("tl.maximum({x}, 0.0)", grad="({x} > 0).to(tl.float32)"),
    "square": lambda x: x * x, "neg": lambda x: -x, "where": _where, "minimum": _binfn("tl.minimum"),
    "maximum": _binfn("tl.maximum"), "clamp": _clamp, "clip": _clamp,
    "logical_and": lambda a, b: _as_bool(a) & _as_bool(b), "logical_or": lambda a, b: _as_bool(a) | _as_bool(b),
    "logical_not": lambda a: ~_as_bool(a),
    "sign": lambda x: _where(x > 0, 1, 0) - _where(x < 0, 1, 0) if x.kind != "f" else
    _where(x > 0, 1.0, 0.0) - _where(x < 0, 1.0, 0.0),
}


def _as_bool(x):
    """``x != 0`` for a traced value; a Python scalar's truth."""
    if isinstance(x, _Expr):
        import ttorch as T
        return _to(x, T.bool)
    return bool(x)


_METHODS = dict(_FUNCS)
_METHODS.update({
    "float": lambda x: _to(x, _dt("float32")), "int": lambda x: _to(x, _dt("int32")),
    "long": lambda x: _to(x, _dt("int64")), "bool": lambda x: _to(x, _dt("bool")), "to": _to,
    "type": _to, "new_ones": _new_const(1), "new_zeros": _new_const(0), "clamp_min": lambda x, m: _clamp(x, min=m),
    "clamp_max": lambda x, m: _clamp(x, max=m),
})


def _dt(name):
    import ttorch as T
    return getattr(T, name)


def _patched(orig, name):
    fn = _FUNCS[name]

    def wrapper(*a, **k):
        if any(isinstance(x, _Expr) for x in a) or any(isinstance(x, _Expr) for x in k.values()):
            return fn(*a, **k)
        return orig(*a, **k)
    return wrapper


def _getitem_patch(orig, tr):
    def getitem(self, index):
        idx = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, _Expr) for i in idx):
            return _load(tr, self, list(idx))
        return orig(self, index)
    return getitem


def trace_mod(fn, is_score, device, wrt=None):
    """The trace of ``fn`` on proxies score (float), b, h, q_idx, kv_idx (ints named ``score``, ``b``, ``h``,
    ``q_idx``, ``kv_idx`` in the generated function): ``lines`` ((is a derivative line, source)), ``result``
    (its value's code), ``result_d`` (the derivative's code with respect to the score, or with ``wrt`` k to
    the value loaded at gradient site k; None: no rule), ``caps`` (captured tensors), ``sites`` (loads of
    captured tensors that need a gradient: (capture index, offset name, in-range name or None))."""
    import ttorch as T
    import ttorch.nn.functional as F
    from ..._tensor import Tensor
    tr = _Trace()
    tr.wrt = wrt
    tr.device = T.device(device) if isinstance(device, str) else device
    args = [_Expr(tr, n, "i") for n in ("b", "h", "q_idx", "kv_idx")]
    if is_score:
        args.insert(0, _Expr(tr, "score", "f", "1.0" if wrt is None else None))
    with _LOCK:
        saved = [(T, n, getattr(T, n)) for n in _FUNCS if hasattr(T, n)]
        saved += [(F, n, getattr(F, n)) for n in ("relu", "sigmoid", "tanh") if hasattr(F, n)]
        get = Tensor.__getitem__
        own = "__getitem__" in Tensor.__dict__
        try:
            for mod, n, orig in saved:
                setattr(mod, n, _patched(orig, n))
            Tensor.__getitem__ = _getitem_patch(get, tr)
            out = fn(*args)
        except Unsupported:
            raise
        except Exception as e:      # any other failure on proxies (an unsupported call): the composite
            raise Unsupported(f"{type(e).__name__}: {e}") from None
        finally:
            for mod, n, orig in saved:
                setattr(mod, n, orig)
            if own:
                Tensor.__getitem__ = get
            else:
                del Tensor.__getitem__
    if isinstance(out, Tensor):
        if out.dim() != 0:
            raise Unsupported("the mod returned a non-scalar tensor")
        out = _load(tr, out, [])
    if not isinstance(out, _Expr):
        kind = _const(out)[1]
        out = tr.emit(_full(out, kind), kind)
    if is_score:
        res = _f(out.code, out.kind)
    else:
        res = out.code if out.kind == "b" else f"{out.code} != 0"
    tr.result = res
    tr.result_d = None if tr.no_grad else (out.d or "0.0")
    return tr
