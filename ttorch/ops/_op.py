"""The op contract: each primitive op is one ``Op`` holding, in one place,

1. its cuda implementation (host code launching Triton kernels; ``kernels`` lists them with
   the configurations to compile ahead of time),
2. its NumPy fallback for cpu (``cpu``: NumPy arrays in, NumPy arrays out),
3. its backward rule, written in ttorch ops so it runs on both devices and can itself be
   differentiated,
4. its sample inputs, from which ``tests/`` generates the tests.

``Op.__call__`` picks the device, runs the implementation and records a graph node when
grad mode is on and an input requires grad. Public functions (``ttorch.add``...) parse
arguments, promote dtypes and then call an ``Op``.
"""
from ..autograd import grad_mode, anomaly_mode
from ..autograd.engine import OpNode, edge_of
from .._tensor import Tensor
from .. import _dtype as D
from . import _plan

REGISTRY = {}
# ops that take complex tensors (registered by ops/complex*.py); ``COMPLEX_IMPL``: name -> the function
# that runs a real op's call for complex inputs (``fn(*inputs, **attrs)``); any other raises PyTorch's error
COMPLEX_OK = set()
COMPLEX_IMPL = {}
# the other limited dtypes (float8: ops/float8.py, uint16/32/64: ops/unsigned.py) fill their own sets
D.complex64._ops = D.complex128._ops = COMPLEX_OK
D.complex64._impl = D.complex128._impl = COMPLEX_IMPL
# PyTorch's kernel names, where its "not implemented for" message names something other than the op
_KERNEL_NAMES = {"add": "add_stub", "sub": "add_stub"}
_ANOMALY = anomaly_mode._state
# ttorch.amp: None outside autocast regions; inside, the caster of listed ops' inputs. One global
# test is all an op pays when no region is on.
_autocast = None
# ttorch.autograd.forward_ad: None outside dual levels; inside, the function giving an op's outputs
# their tangents (autograd/_jvp.py). Same one global test.
_forward_ad = None
# Tensor subclasses with their own storage (sparse COO in ttorch/_sparse.py, ...) register here what an op
# given one of them does: ``handler(op, inputs, attrs)`` returns the op's result or raises PyTorch's error.
# A plain Tensor never reaches this lookup.
SUBCLASS_OPS = {}
# ttorch.autograd.graph: None when no saved-tensor hooks are set; else the innermost (pack, unpack)
# pair, through which ``_record`` saves. Same one global test.
_saved_hooks = None
# ttorch.utils.checkpoint's selective checkpointing: None outside its forward and recompute contexts;
# inside, ``_sac(op, inputs, attrs)`` computes (forward: and caches) or replays the outputs of ops it ``takes``.
_sac = None
# ttorch.utils._python_dispatch: None when no TorchDispatchMode is on; else the function that hands an op's
# call to the innermost mode (``_dispatch_mode(op, inputs, attrs)``). Same one global test.
_dispatch_mode = None


class Ctx:
    """What a backward rule sees: saved ``inputs`` (None where not saved), ``output``, and attrs."""

    _hooked_outputs = None
    _out_version = None     # version of the saved output (save_output), checked before backward
    _packed = None          # what saved-tensor hooks made of the saved tensors (autograd/graph.py)

    def __init__(self, attrs):
        self.__dict__ = attrs       # a fresh dict (Op.__call__'s **attrs): adopted, not copied

    def _check_versions(self, opname):
        # ``_versions``: per input, the version of the saved tensor (None: not saved). Plain
        # ints, so the garbage collector does not track them: graphs can be long.
        for t, v in zip(self.inputs, self._versions):
            if v is not None and t._version != v:
                _version_error(t, v, opname)
        v = self._out_version
        if v is not None and self.output._version != v:
            _version_error(self.output, v, opname)


def _version_error(t, v, opname):
    raise RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [ttorch.{'cuda.' if t.is_cuda else ''}{_TYPE[t.dtype.name]} {list(t.shape)}], "
        f"which is output 0 of {opname}, is at version {t._version}; expected version {v} instead. "
        "Hint: the backtrace further above can help locate the in-place op (enable "
        "ttorch.autograd.set_detect_anomaly(True)).")


_TYPE = {"complex64": "ComplexFloatTensor", "complex128": "ComplexDoubleTensor",
         "float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "bfloat16": "BFloat16Tensor",
         "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor", "int8": "CharTensor",
         "uint8": "ByteTensor", "bool": "BoolTensor"}


class Op:
    """A primitive op. ``save``: indices of inputs the backward rule reads (None: all tensors)."""

    # forward mode: ``jvp(op, inputs, attrs, outputs, tangents)`` -> the outputs' tangents, for ops
    # with a cheaper rule than the generic one (autograd/_jvp.py, which sets it)
    jvp = None

    def __init__(self, name, *, cpu=None, cuda=None, impl=None, backward=None, samples=None, kernels=(), save=None,
                 save_output=False, grad_outputs=None, grad_name=None, family="other", doc="", public=None,
                 dtypes=None, plan_state=None):
        self.name = name
        # ``impl`` (tensors in, tensors out, any device) serves ops that only make views or
        # compose other ops; ``cpu``/``cuda`` are the per-device implementations.
        self.impl = impl
        self.cpu = cpu
        self.cuda = cuda
        self.backward = backward
        self.samples = samples
        self.kernels = kernels      # KernelSpecs, or a function returning them
        self.save = save
        self.save_output = save_output
        # outputs past the first ``grad_outputs`` (statistics returned beside the result) are not
        # part of the graph: they never require grad, and backward gets no zeros for them
        self.grad_outputs = grad_outputs
        self.grad_name = grad_name or _camel(name) + "Backward0"
        self.family = family
        self.doc = doc
        self.public = public        # the user-facing function the tests call with each sample
        self.dtypes = dtypes        # dtypes the tests run the samples in (None: floating types)
        # ``plan_state()``: the globals ``cuda`` reads besides its arguments, as a hashable tuple; an op
        # that gives it may have its launches planned on a real GPU (``_plan.py``)
        self.plan_state = plan_state
        self._plans = {}
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is defined twice")
        REGISTRY[name] = self

    def __repr__(self):
        return f"<ttorch op {self.name}>"

    def specs(self):
        """The kernel configurations this op compiles ahead of time."""
        return list(self.kernels() if callable(self.kernels) else self.kernels)

    def __call__(self, *inputs, **attrs):
        if _autocast is not None:
            inputs = _autocast.inputs(self.name, inputs, attrs)
        dev = None
        for t in inputs:
            if type(t) is Tensor:
                if t.dtype._limited and self.name not in t.dtype._ops:   # complex, float8, uint16/32/64
                    impl = t.dtype._impl.get(self.name)
                    if impl is not None:
                        return impl(*inputs, **attrs)
                    raise no_complex(_KERNEL_NAMES.get(self.name, self.name), t.dtype)
                if dev is None:
                    dev = t.device
                elif t.device is not dev and t.device != dev:
                    raise RuntimeError(f"{self.name}: Expected all tensors to be on the same device, but found at "
                                       f"least two devices, {dev} and {t.device}!")
            elif type(t) in SUBCLASS_OPS:    # e.g. a sparse COO tensor: PyTorch's error for a dense op
                return SUBCLASS_OPS[type(t)](self, inputs, attrs)
        if _sac is not None and _sac.takes(self):
            out = _sac(self, inputs, attrs)
        elif _dispatch_mode is not None and (self.impl is None or self.backward is not None):
            # (an ``impl`` op without a backward is a composite: its inner ops reach the mode instead, as
            # PyTorch's CompositeImplicitAutograd ops decompose before its dispatch modes)
            out = _dispatch_mode(self, inputs, attrs)
        elif self.impl is not None:
            out = self.impl(*inputs, **attrs)
        elif dev is None or dev.type == "cpu":
            if len(inputs) == 2:    # the common binary case, without a list comprehension's frame
                a, b = inputs
                r = self.cpu(a._np if type(a) is Tensor else a, b._np if type(b) is Tensor else b, **attrs)
            else:
                r = self.cpu(*[t._np if type(t) is Tensor else t for t in inputs], **attrs)
            out = Tensor._wrap_np(r) if type(r) is not tuple else tuple(Tensor._wrap_np(a) for a in r)
        elif self.plan_state is not None:
            out = _plan.call(self, inputs, attrs)
        else:
            out = self.cuda(*inputs, **attrs)
        if self.backward is not None and grad_mode._state["enabled"]:
            for t in inputs:
                if type(t) is Tensor and t.requires_grad:
                    self._record(inputs, attrs, out)
                    break
        if _forward_ad is not None:
            _forward_ad(self, inputs, attrs, out)
        return out

    def _record(self, inputs, attrs, out):
        # this runs for every recorded op: one pass, and few objects for the garbage collector
        ctx = Ctx(attrs)
        save = self.save
        saved = list(inputs)        # scalars are kept by value
        versions, needs, nxt, in_meta = [], [], [], []
        for i, t in enumerate(inputs):
            if type(t) is Tensor:
                if save is None or i in save:
                    versions.append(t._version)
                else:
                    saved[i] = None
                    versions.append(None)
                if t.requires_grad:
                    needs.append(True)
                    nxt.append(edge_of(t))
                    in_meta.append((t._shape, t.dtype, t.device))
                    continue
            else:
                versions.append(None)
            needs.append(False)
            nxt.append(None)
            in_meta.append(None)
        ctx.inputs = saved
        outs = all_outs = out if type(out) is tuple else (out,)
        if self.save_output:
            o = outs[0].detach()
            ctx.output = o
            ctx._out_version = o._version
            if self.save_output == "all":   # every output (attention keeps O and its logsumexp)
                ctx.outputs = (o,) + tuple(t.detach() for t in outs[1:])
        # one lookup interns the node's metadata (see ``_interned``); versions only when none was
        # written yet: counters of weights updated in place would fill the cache with one-offs
        if self.grad_outputs is not None:
            outs = outs[:self.grad_outputs]
        ctx.needs, in_meta, out_meta = _interned(
            (tuple(needs), tuple(in_meta), tuple([(o._shape, o.dtype, o.device) for o in outs])))
        versions = tuple(versions)
        ctx._versions = _interned(versions) if not any(versions) else versions
        node = OpNode(self.grad_name, self.backward, ctx, tuple(nxt), in_meta, out_meta)
        if _ANOMALY["enabled"]:
            anomaly_mode._record(node)
        for i, o in enumerate(outs):
            if o.dtype.is_floating_point or o.dtype.is_complex:
                o.grad_fn = node
                o._output_nr = i
                o.requires_grad = True
        if _saved_hooks is not None:    # after the outputs got their node: the hooks see them as saved
            from ..autograd.graph import _pack_ctx
            _pack_ctx(ctx, all_outs, _saved_hooks)


_INTERNED = {}


def no_complex(name, dtype):
    """PyTorch's error for an op that has no complex kernel."""
    return NotImplementedError(f"\"{name}\" not implemented for '{D.scalar_name(dtype)}'")


def _interned(meta):
    """One shared object per distinct metadata tuple ((shape, dtype, device), needs, versions):
    graph nodes of the same shapes share them, so a long graph holds fewer objects for Python's
    garbage collector to walk (its full collections visit every live object)."""
    try:
        m = _INTERNED.get(meta)
    except TypeError:       # an unhashable shape: keep the tuple as it is
        return meta
    if m is None:
        if len(_INTERNED) > 8192:
            _INTERNED.clear()
        m = _INTERNED[meta] = meta
    return m


def _camel(name):
    return "".join(p[:1].upper() + p[1:] for p in name.strip("_").split("_"))


def on_device(t, dev):
    if t.device != dev:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                           f"{t.device} and {dev}!")


def writes_into(out, *operands_and_dtype):
    """Whether an elementwise kernel may write its result straight into ``out`` (``out=`` and
    in-place ops on cuda): the result's dtype and shape are ``out``'s, no operand records a graph,
    and no tensor operand overlaps ``out`` other than as the very same elements (an element is
    read and written by the same program, so ``x.mul_(x)`` is safe; ``x[1:].add_(x[:-1])`` is not)."""
    *operands, dtype = operands_and_dtype
    if type(out) is not Tensor or out.dtype is not dtype or _forward_ad is not None:    # (tangents: see inplace_from)
        return False
    if _dispatch_mode is not None:      # a dispatch mode sees the op's call, then the copy
        return False
    recording = grad_mode._state["enabled"]
    if recording and out.requires_grad:
        return False
    shape = out._shape
    st = None
    same = True         # every tensor operand of out's shape (the usual in-place op): no broadcast to check
    for t in operands:
        if type(t) is not Tensor:
            if type(t) in SUBCLASS_OPS:     # (vmap's BatchedTensor...: its handler computes the value)
                return False
            continue
        if recording and t.requires_grad or t.device != out.device:
            return False
        if t._shape != shape:
            if len(t._shape) > len(shape):
                return False
            same = False
        if t.untyped_storage() is out.untyped_storage():
            st = st or out.stride()
            if t._shape != shape or t._offset != out._offset or t.stride() != st:
                return False
    if out._stride is not None or 0 in shape:       # (contiguous and not empty: no stride 0 over a dim > 1)
        if any(s == 0 and n > 1 for s, n in zip(st or out.stride(), shape)):    # an element written by many
            return False                                                        # programs
    if same:
        return True
    from .elementwise import broadcast_shapes
    try:
        return broadcast_shapes(*[t._shape for t in operands if type(t) is Tensor], shape) == shape
    except RuntimeError:
        return False


# ops whose ``out=`` must have the result's dtype exactly, not merely one it casts to as elementwise ops' out=
# (PyTorch's structured kernels check ``out.dtype == result.dtype``): opname -> PyTorch's message, where {w}/{g}
# are the wanted/given dtypes' names (Long) and {wc}/{gc} their C names (long int)
_SAME = "Found dtype {g} but expected {w}"
_CPP = "Expected out tensor to have dtype {wc}, but got {gc} instead"
EXACT_OUT = dict.fromkeys(("abs", "bitwise_not", "ceil", "conj_physical", "floor", "neg", "round", "sgn", "sign",
                           "trunc"), _SAME)
EXACT_OUT.update(dict.fromkeys((
    "addmm", "addmv", "baddbmm", "bmm", "mm", "mv", "matmul", "linear", "diag", "gather", "index_add", "index_copy",
    "index_reduce", "cross", "linalg.cross", "matrix_exp", "msort", "sort", "topk", "scatter",
    "scatter_add", "scatter_reduce", "slice_scatter", "take_along_dim", "tril", "triu", "qr", "svd", "aminmax",
    "argmax", "argmin", "isin", "softmax", "log_softmax", "masked_select"), _CPP))
EXACT_OUT.update(
    take="take(): self and out expected to have the same dtype, but got self.dtype = {w} and out.dtype = {g}",
    index_select="index_select(): self and result must have the same scalar type",
    nan_to_num="nan_to_num: dtype of out: {g} should be same as input: {w}",
    isneginf="isneginf does not support non-boolean outputs.",
    isposinf="isposinf does not support non-boolean outputs.",
    tensordot="tensordot: Expected the output tensor to have dtype {w}, but got an output tensor with dtype {g}",
    heaviside="heaviside is not yet implemented for tensors with different dtypes.")
EXACT_OUT["inner"] = EXACT_OUT["tensordot"]
EXACT_OUT.update({"all": "all only supports bool tensor for result, got: {g}",
                  "any": "any only supports bool tensor for result, got: {g}",
                  "amax": "Expected the dtype for input and out to match, but got {w} for input's dtype and {g} for "
                          "out's dtype.",
                  "signbit": "signbit does not support non-boolean outputs.",
                  "dot": "result dtype {g} does not match input dtype {w}",
                  "linalg.multi_dot": "multi_dot(): expected out tensor to have dtype {wc} but got {gc}"})
EXACT_OUT["amin"] = EXACT_OUT["amax"]
EXACT_OUT["nonzero"] = "nonzero: Expected out tensor to have scalar type {w} but got scalar type{g}"   # (sic)
EXACT_OUT.update(vdot=EXACT_OUT["dot"], cummax="expected scalar_type {w} but found {g}",
                 cummin="expected scalar_type {w} but found {g}")
_CNAME = {"float32": "float", "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
          "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
          "bool": "bool", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def _exact_out_error(opname, want, got):
    wc, gc = (_CNAME.get(str(d).split(".")[-1], str(d)) for d in (want, got))
    return EXACT_OUT[opname].format(w=D.scalar_name(want), g=D.scalar_name(got), wc=wc, gc=gc)


def write_out(out, result, opname):
    """Implement ``out=``: check dtype/device, resize an empty ``out``, copy ``result`` into it."""
    from .elementwise import copy_into
    if type(out) is not Tensor:
        raise TypeError(f"{opname}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if out.device != result.device:
        raise RuntimeError(f"{opname}: Expected out tensor to be on device {result.device}, but got {out.device}")
    if out.dtype is not result.dtype and opname in EXACT_OUT:
        raise RuntimeError(_exact_out_error(opname, result.dtype, out.dtype))
    if not D.can_cast(result.dtype, out.dtype):
        if opname in ("cat", "stack", "hstack", "vstack", "dstack", "column_stack"):    # (PyTorch's cat check)
            raise TypeError(f"torch.cat(): input types can't be cast to the desired output type "
                            f"{D.scalar_name(out.dtype)}")
        raise RuntimeError(f"{opname}: result type {D.scalar_name(result.dtype)} can't be cast to the desired "
                           f"output type {D.scalar_name(out.dtype)}")
    if out.requires_grad and grad_mode.is_grad_enabled():
        raise RuntimeError(f"{opname}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    if _forward_ad is not None and "_fw_grad" in result.__dict__:
        from ..autograd.forward_ad import _tangent
        if _tangent(result) is not None:
            raise NotImplementedError(f"Trying to use forward AD with {opname}_out that does not support it because it "
                                      "is an out= function")
    if out._shape != result._shape:
        if out.numel() != 0:
            import warnings
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out.shape)}, "
                          f"which does not match the required output shape {list(result.shape)}.")
        fresh = Tensor._empty(result._shape, out.dtype, out.device)
        out.data = fresh
    copy_into(out, result)
    out._bump_version()
    return out


def write_outs(cls, results, out, opname):
    """``cls(*results)`` (a namedtuple type), or with ``out`` (a sequence of tensors) each result written
    into its own by ``write_out`` and ``cls(*out)``: ``out=`` for functions returning several tensors."""
    if out is None:
        return cls(*results)
    for o, r in zip(out, results):
        write_out(o, r, opname)
    return cls(*out)
