"""``parallelize_module``: apply tensor-parallel styles to a module's submodules (PyTorch's API)."""
import fnmatch

from .style import ParallelStyle

__all__ = ["parallelize_module"]


def parallelize_module(module, device_mesh=None, parallelize_plan=None, *, src_data_rank=0):
    """Lay out ``module`` by ``parallelize_plan``: a ``ParallelStyle`` for the module itself, or a dict from
    dotted submodule paths (``fnmatch`` wildcards per part: ``"layers.*.w1"``) to styles. Returns ``module``.

    Example::

        >>> mesh = init_device_mesh("cpu", (2,))                                               # doctest: +SKIP
        >>> parallelize_module(mlp, mesh, {"fc1": ColwiseParallel(), "fc2": RowwiseParallel()})  # doctest: +SKIP
    """
    if device_mesh is None:
        raise RuntimeError("device_mesh is required (ttorch has no current-mesh context)")
    if parallelize_plan is None:
        return module
    if isinstance(parallelize_plan, ParallelStyle):
        parallelize_plan.src_data_rank = src_data_rank
        return parallelize_plan._apply(module, device_mesh)
    if not isinstance(parallelize_plan, dict):
        raise TypeError("Expect Union[ParallelStyle, Dict[str, ParallelStyle]] for parallelize_plan, "
                        f"{type(parallelize_plan)} found!")
    for path, style in parallelize_plan.items():
        if not path:
            raise ValueError("Expect module path to be non-empty, but got empty string!")
        atoms = path.split(".")
        head, rest = atoms[0], ".".join(atoms[1:])
        matched = [child for name, child in module.named_children() if fnmatch.fnmatch(name, head)]
        if not matched:
            raise ValueError(f"Module path {path} does not match any submodule")
        for child in matched:
            parallelize_module(child, device_mesh, {rest: style} if rest else style, src_data_rank=src_data_rank)
    return module
