"""ttorch.onnx: export a model to an ONNX file (PyTorch's ``torch.onnx``).

``export`` traces the model on example inputs with ``ttorch.fx`` (each node also run on the example values,
so Python control flow is specialised to the path they take, as the TorchScript-tracing exporter does), maps
every ttorch op to ONNX operators and writes the ModelProto with ttorch's own protobuf encoder: no ``onnx``
package is needed. Parameters and buffers become initializers named by their state_dict keys.

Ops are lowered by symbolic functions (``_symbolic_*.py``); ``register_custom_op_symbolic`` adds or replaces
one, and an autograd ``Function`` with a ``symbolic(g, *inputs)`` staticmethod is lowered by it, as in PyTorch.
A public function without a symbolic is traced through; what still has none raises
``errors.UnsupportedOperatorError`` naming the op.
"""
import contextlib
import enum
import os
import re

from . import errors, symbolic_helper
from .errors import OnnxExporterError

__all__ = ["export", "is_in_onnx_export", "TrainingMode", "OperatorExportTypes", "TensorProtoDataType",
           "ONNXProgram", "errors", "symbolic_helper",
           "register_custom_op_symbolic", "unregister_custom_op_symbolic", "select_model_mode_for_export",
           "OnnxExporterError", "producer_name", "producer_version"]

producer_name = "ttorch"
producer_version = "2.13.0"
_DEFAULT_OPSET, _MIN_OPSET, _MAX_OPSET = 20, 13, 20     # PyTorch 2.13 defaults to opset 20
_in_export = False


class TrainingMode(enum.IntEnum):
    """How ``export`` sets the model's mode: EVAL (default), PRESERVE (as it is) or TRAINING."""
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


class OperatorExportTypes(enum.IntEnum):
    """Accepted for compatibility; ttorch always exports standard ONNX operators."""
    ONNX = 0
    ONNX_ATEN = 1
    ONNX_ATEN_FALLBACK = 2
    ONNX_FALLTHROUGH = 3


TensorProtoDataType = enum.IntEnum("TensorProtoDataType", [
    ("UNDEFINED", 0), ("FLOAT", 1), ("UINT8", 2), ("INT8", 3), ("UINT16", 4), ("INT16", 5), ("INT32", 6),
    ("INT64", 7), ("STRING", 8), ("BOOL", 9), ("FLOAT16", 10), ("DOUBLE", 11), ("UINT32", 12), ("UINT64", 13),
    ("COMPLEX64", 14), ("COMPLEX128", 15), ("BFLOAT16", 16), ("FLOAT8E4M3FN", 17), ("FLOAT8E4M3FNUZ", 18),
    ("FLOAT8E5M2", 19), ("FLOAT8E5M2FNUZ", 20)], module=__name__)
TensorProtoDataType.__doc__ = "ONNX's element types (``TensorProto.DataType``), e.g. for ``g.op('Cast', x, to_i=...)``."


def is_in_onnx_export():
    """Returns whether it is in the middle of ONNX export."""
    return _in_export


class ONNXProgram:
    """What ``export(..., dynamo=True)`` returns: the serialized model.

    ``save(destination)`` writes it; ``optimize()`` does nothing (the exporter already folds constants and drops
    dead nodes); ``model_proto`` parses it with the ``onnx`` package and calling the program runs it with
    ``onnxruntime`` (both when installed), returning ttorch tensors.
    """

    def __init__(self, model_bytes):
        self._model_bytes = model_bytes
        self._session = None

    @property
    def model_proto(self):
        import onnx
        return onnx.load_from_string(self._model_bytes)

    def save(self, destination, *, include_initializers=True, keep_initializers_as_inputs=False,
             external_data=None):
        _write(destination, self._model_bytes)

    def optimize(self):
        return None

    def initialize_inference_session(self, initializer=None):
        import onnxruntime
        self._session = (initializer or onnxruntime.InferenceSession)(self._model_bytes)

    def release(self):
        self._session = None

    def __call__(self, *args, **kwargs):
        import numpy as np
        from .._tensor import Tensor
        from ..fx.node import map_aggregate
        from .. import from_numpy
        if self._session is None:
            self.initialize_inference_session()
        flat = []
        map_aggregate((args, kwargs), lambda x: flat.append(x.detach().cpu().numpy()) if isinstance(x, Tensor)
                      else x)
        names = [i.name for i in self._session.get_inputs()]
        outs = self._session.run(None, dict(zip(names, flat)))
        return [from_numpy(np.asarray(o)) for o in outs]

    def __repr__(self):
        return f"ONNXProgram({len(self._model_bytes)} bytes)"


def _write(f, data):
    if hasattr(f, "write"):
        f.write(data)
        return
    import tempfile
    path = os.fspath(f)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".onnx-")
    try:
        with os.fdopen(fd, "wb") as fh:      # written beside the target, then renamed: never half a file
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def select_model_mode_for_export(model, mode):
    """Temporarily set ``model``'s training mode to ``mode`` (a TrainingMode), restored on exit."""
    if not isinstance(mode, TrainingMode):
        raise TypeError(f"'mode' should be a torch.onnx.TrainingMode enum, but got '{type(mode)}'.")
    was_training = getattr(model, "training", False)
    if hasattr(model, "training") and mode != TrainingMode.PRESERVE:
        model.train(mode == TrainingMode.TRAINING)
    try:
        yield
    finally:
        if hasattr(model, "training") and mode != TrainingMode.PRESERVE:
            model.train(was_training)


def _symbolic_key(symbolic_name):
    if symbolic_name.startswith("::"):
        symbolic_name = f"aten{symbolic_name}"
    if not re.match(r"^[a-zA-Z0-9-_]+::[a-zA-Z-_]+[a-zA-Z0-9-_]*$", symbolic_name):
        raise OnnxExporterError(f"Failed to register operator {symbolic_name}. The symbolic name must match the "
                                "format domain::name, and should start with a letter and contain only "
                                "alphanumeric characters")
    ns, name = symbolic_name.split("::", 1)
    if ns == "onnx":
        raise ValueError(f"Failed to register operator {symbolic_name}. {ns} domain cannot be modified.")
    return ns, name


def register_custom_op_symbolic(symbolic_name, symbolic_fn, opset_version):
    """Register ``symbolic_fn(g, *inputs)`` for the op ``"<domain>::<op>"`` from ``opset_version`` on.

    ``g.op("Name", *inputs, attr_f=1.0)`` adds ONNX nodes (``"domain::Name"`` for a custom domain). The op
    is found by name: ``"aten::gelu"`` replaces the built-in mapping of ``gelu``; another domain's
    ``"mydomain::my_fn"`` maps calls of a function ``my_fn`` recorded by the tracer (one made public in
    ``ttorch``/``ttorch.nn.functional`` or registered with ``ttorch.fx.wrap``).

    Difference from PyTorch: inputs are the op's arguments after binding to its ttorch signature, in order and
    with defaults (but ``out`` and private ``_`` ones); tensors come as graph Values, every other argument as its
    plain Python value (``symbolic_helper.parse_args`` is a no-op). Values offer ``type().sizes()``, ``.dim()``
    and ``.scalarType()`` of TorchScript's API, not ``.node()``.
    """
    from . import _graph
    ns, name = _symbolic_key(symbolic_name)
    entries = [e for e in _graph.CUSTOM.get(name, []) if e[0] != opset_version]
    _graph.CUSTOM[name] = entries + [(opset_version, ns, symbolic_fn)]


def unregister_custom_op_symbolic(symbolic_name, opset_version):
    """Remove the symbolic ``register_custom_op_symbolic`` registered for ``symbolic_name`` at ``opset_version``."""
    from . import _graph
    ns, name = _symbolic_key(symbolic_name)
    entries = [e for e in _graph.CUSTOM.get(name, []) if e[0] != opset_version]
    if entries:
        _graph.CUSTOM[name] = entries
    else:
        _graph.CUSTOM.pop(name, None)


def __getattr__(name):
    # the exporter (tracer, symbolics) loads on first use: ``import ttorch`` stays light
    if name == "export":
        from ._api import export
        return export
    raise AttributeError(f"module 'ttorch.onnx' has no attribute '{name}'")
