"""``ttorch.onnx.export``: argument handling around tracing (``_trace``), lowering and writing (``_export``)."""
import re
import warnings

from .. import nn
from . import _export
from ._graph import GraphContext
from ._trace import ConcreteTracer
from . import TrainingMode, OperatorExportTypes, select_model_mode_for_export
from .errors import OnnxExporterError


class _FunctionModule(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def _dynamic_axes(dynamic_axes, dynamic_shapes, input_names, output_names):
    """PyTorch's ``dynamic_axes`` ({name: {axis: dim name}} or {name: [axes]}) as {name: {axis: dim name}};
    ``dynamic_shapes`` ({input: {axis: Dim or name}} or a tuple in input order) adds input axes."""
    out = {}
    for key, axes in (dynamic_axes or {}).items():
        default_output = not output_names and re.fullmatch(r"output(_\d+)?", str(key))
        if key not in input_names and key not in output_names and not default_output:
            warnings.warn(f"Provided key {key} for dynamic axes is not a valid input/output name")
            continue
        if isinstance(axes, dict):
            out[key] = {int(a): str(n) for a, n in axes.items()}
        else:
            out[key] = {int(a): f"{key}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
    if dynamic_shapes:
        specs = dynamic_shapes.items() if isinstance(dynamic_shapes, dict) else zip(input_names, dynamic_shapes)
        for key, axes in specs:
            for a, d in (axes or {}).items():
                name = d if isinstance(d, str) else getattr(d, "__name__", None) or f"{key}_dim_{a}"
                out.setdefault(key, {})[int(a)] = name
    return out


def export(model, args=(), f=None, *, kwargs=None, verbose=None, input_names=None, output_names=None,
           opset_version=None, dynamo=True, external_data=True, dynamic_shapes=None, custom_translation_table=None,
           report=False, optimize=True, verify=False, profile=False, dump_exported_program=False,
           artifacts_dir=".", export_params=True, keep_initializers_as_inputs=False, dynamic_axes=None,
           training=TrainingMode.EVAL, operator_export_type=OperatorExportTypes.ONNX, do_constant_folding=True,
           custom_opsets=None, export_modules_as_functions=False, autograd_inlining=True):
    """Export ``model`` (called as ``model(*args, **kwargs)``) to an ONNX model written to ``f``.

    Args:
        model (nn.Module, ExportedProgram or callable): what to export; run once on the example inputs.
        args (tuple or Tensor): example positional inputs; a trailing dict holds keyword inputs (TorchScript's
            convention). Tensors, also inside lists/tuples/dicts, become graph inputs named after the forward's
            parameters (``name_i`` inside a container) unless ``input_names`` says otherwise.
        f (str, os.PathLike or file object): destination; a path is written atomically. ``None`` writes nothing.
        input_names, output_names (list of str): graph input/output names, in order.
        opset_version (int): ONNX opset, 13 to 20 (default 20, PyTorch 2.13's).
        dynamic_axes (dict): ``{name: {axis: "dim_name"}}`` or ``{name: [axes]}``: these dims become dim_params.
        dynamic_shapes (dict or tuple): ``{input: {axis: Dim or name}}``, another way to name dynamic input dims.
        export_params (bool): store parameters as initializers (else they become graph inputs).
        keep_initializers_as_inputs (bool): also list the initializers among the graph inputs.
        do_constant_folding (bool): compute parts that depend on no input at export time.
        training (TrainingMode): EVAL (default) exports ``model.eval()``'s computation; the mode is restored.
        custom_opsets (dict): ``{domain: version}`` of custom domains used by custom symbolics.

    Returns:
        ONNXProgram when ``dynamo`` (PyTorch 2.13's default) is true, else None.

    Example::

        >>> import io
        >>> buf = io.BytesIO()
        >>> ttorch.onnx.export(ttorch.nn.Linear(3, 2), (ttorch.randn(1, 3),), buf, input_names=["x"],
        ...                    dynamic_axes={"x": {0: "batch"}}, dynamo=False)
        >>> from ttorch.onnx._reader import load_model
        >>> load_model(buf.getvalue())["graph"]["inputs"]
        [('x', 1, ['batch', 3])]

    Differences from PyTorch: one exporter serves both ``dynamo`` values (tracing like the TorchScript one;
    the dynamo-only options ``report``, ``verify``, ``optimize``, ``external_data``, ``profile``,
    ``custom_translation_table``... and ``operator_export_type``, ``export_modules_as_functions``,
    ``autograd_inlining`` are accepted and ignored); data-dependent control flow is specialised to
    the example inputs; in-place ops are seen by later reads of the same tensor, but not through other views of
    it, and item assignment (``x[0] = v``) is not supported; outputs are named ``output`` (``output_i`` for
    several) unless ``output_names`` says otherwise, inputs after the forward's parameters; sizes read from tensors are
    ``Shape`` ops only when some axis is dynamic (constants otherwise); with dynamic axes, the dims of an output
    that ``dynamic_axes`` does not mention are left unknown; models over 2 GB (external data) are not supported.
    """
    from .. import autograd
    from .. import onnx as _onnx
    from .._tensor import Tensor
    opset = _onnx._DEFAULT_OPSET if opset_version is None else int(opset_version)
    if not _onnx._MIN_OPSET <= opset <= _onnx._MAX_OPSET:
        raise ValueError(f"Unsupported ONNX opset version: {opset}. ttorch exports opsets {_onnx._MIN_OPSET} to "
                         f"{_onnx._MAX_OPSET}.")
    if not isinstance(model, nn.Module) and callable(getattr(model, "module", None)):
        model = model.module()                     # an ExportedProgram (ttorch.export): its module, whose
        training = TrainingMode.PRESERVE          # mode is fixed (train() raises, as in PyTorch)
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise TypeError(f"model must be an nn.Module or a callable, got {type(model).__name__}")
        model = _FunctionModule(model)
    if isinstance(args, Tensor) or not isinstance(args, (tuple, list)):
        args = (args,)
    args = tuple(args)
    if kwargs is None and args and isinstance(args[-1], dict):
        args, kwargs = args[:-1], args[-1]
    kwargs = dict(kwargs or {})
    # the example inputs are cloned: in-place ops of the forward must not change the caller's tensors
    from ..fx.node import map_aggregate
    args, kwargs = map_aggregate((args, kwargs), lambda x: x.clone() if isinstance(x, Tensor) else x)

    tracer = ConcreteTracer(_export.lowerable(opset), opset)
    _onnx._in_export = True
    try:
        with select_model_mode_for_export(model, training), autograd.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            graph = tracer.trace_module(model, args, kwargs)
    finally:
        _onnx._in_export = False
    input_names = list(input_names or [])
    names = input_names + tracer.input_names[len(input_names):]
    tracer.input_names = names
    output_names = list(output_names or [])
    axes = _dynamic_axes(dynamic_axes, dynamic_shapes, names, output_names)
    g = GraphContext(opset, dynamic=bool(axes))
    g.domains.update(custom_opsets or {})
    inputs, outputs, params = _export.lower(tracer, graph, g, do_constant_folding, export_params,
                                            keep_initializers_as_inputs)
    data = _export.finish(g, inputs, outputs, output_names, params, axes, "main_graph",
                          (_onnx.producer_name, _onnx.producer_version))
    if len(data) >= 2 ** 31:
        raise OnnxExporterError("ONNX export: the model is 2 GB or more; ttorch does not write external data files")
    if verbose:
        from ._reader import load_model
        graph = load_model(data)["graph"]
        print(f"Exported graph (opset {opset}): inputs {[i[0] for i in graph['inputs']]}, "
              f"outputs {[o[0] for o in graph['outputs']]}")
        for node in graph["nodes"]:
            print(f"  {', '.join(node['outputs'])} = {node['op_type']}({', '.join(node['inputs'])})")
    if f is not None:
        _onnx._write(f, data)
    return _onnx.ONNXProgram(data) if dynamo else None
