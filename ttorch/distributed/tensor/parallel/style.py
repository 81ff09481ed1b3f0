"""Tensor-parallel styles: how ``parallelize_module`` lays out one submodule (PyTorch's
``torch.distributed.tensor.parallel.style``).

``ColwiseParallel``: a Linear's weight and bias ``Shard(0)`` (an Embedding's weight ``Shard(1)``), input
``Replicate``, output ``Shard(-1)``; ``RowwiseParallel``: a Linear's weight ``Shard(1)``, bias
``Replicate``, input ``Shard(-1)``, output ``Replicate`` (an all-reduce of the partial products);
``SequenceParallel``: parameters replicated, input and output sharded on the sequence dim;
``PrepareModuleInput``: re-lays out a module's positional inputs. Differences from PyTorch: an op without a
sharding rule inside a ``SequenceParallel`` module runs through ``Replicate``, so its output comes out
``Replicate`` (same values; ``layer_norm``, ``rms_norm`` and ``softmax`` have rules and keep the shard);
``PrepareModuleInput`` takes no keyword-input layouts.
"""
from functools import partial

from .._api import DTensor, distribute_module, distribute_tensor
from ..placement_types import Replicate, Shard

__all__ = ["ParallelStyle", "ColwiseParallel", "RowwiseParallel", "SequenceParallel", "PrepareModuleInput"]


class ParallelStyle:
    """Base class of the styles: ``_apply(module, device_mesh)`` lays the module out."""

    src_data_rank = 0

    def _apply(self, module, device_mesh):
        raise NotImplementedError


def _shard_params(module, mesh, placement, src_data_rank, only=None):
    from ....nn.parameter import Parameter
    for name, p in list(module.named_parameters(recurse=False)):
        if only is None or name in only:
            module.register_parameter(name, Parameter(distribute_tensor(p.data, mesh, [placement],
                                                                        src_data_rank=src_data_rank),
                                                      p.requires_grad))


def _to_dtensor(t, mesh, layout, desired):
    if not isinstance(t, DTensor):
        t = DTensor.from_local(t, mesh, layout, run_check=False)
    return t.redistribute(placements=desired) if tuple(t.placements) != tuple(desired) else t


def _finish(outputs, layouts, use_local_output):
    if tuple(outputs.placements) != tuple(layouts):
        outputs = outputs.redistribute(placements=layouts)
    return outputs.to_local() if use_local_output else outputs


class ColwiseParallel(ParallelStyle):
    """Shard an ``nn.Linear`` (or ``nn.Embedding``) by output features.

    Args:
        input_layouts (Placement, optional): the layout of the input when it is a plain tensor. Default: Replicate.
        output_layouts (Placement, optional): the layout the output is moved to. Default: ``Shard(-1)``.
        use_local_output (bool): return the local tensor rather than the DTensor. Default: True.
    """

    def __init__(self, *, input_layouts=None, output_layouts=None, use_local_output=True):
        self.input_layouts = (input_layouts or Replicate(),)
        self.output_layouts = (output_layouts or Shard(-1),)
        self.desired_input_layouts = (Replicate(),)
        self.use_local_output = use_local_output

    def _apply(self, module, device_mesh):
        from ....nn import Embedding, Linear
        if isinstance(module, Linear):
            placement = Shard(0)
        elif isinstance(module, Embedding):
            placement = Shard(1)
        else:
            raise NotImplementedError("ColwiseParallel currently only support nn.Linear and nn.Embedding!")

        def partition(name, mod, mesh):
            if mod is module:
                _shard_params(mod, mesh, placement, self.src_data_rank)

        def inputs(mod, args, mesh):
            return (_to_dtensor(args[0], mesh, self.input_layouts, self.desired_input_layouts),) + tuple(args[1:])
        return distribute_module(module, device_mesh, partition, inputs,
                                 partial(lambda lay, loc, mod, out, mesh: _finish(out, lay, loc),
                                         self.output_layouts, self.use_local_output))

    def __repr__(self):
        return f"{type(self).__name__}(input_layouts={self.input_layouts}, output_layouts={self.output_layouts}, " \
               f"use_local_output={self.use_local_output})"


class RowwiseParallel(ParallelStyle):
    """Shard an ``nn.Linear`` by input features (or an ``nn.Embedding`` by rows: not supported here).

    Args:
        input_layouts (Placement, optional): the layout of the input when it is a plain tensor. Default: ``Shard(-1)``.
        output_layouts (Placement, optional): the layout the output is moved to. Default: Replicate.
        use_local_output (bool): return the local tensor rather than the DTensor. Default: True.
    """

    def __init__(self, *, input_layouts=None, output_layouts=None, use_local_output=True):
        self.input_layouts = (input_layouts or Shard(-1),)
        self.output_layouts = (output_layouts or Replicate(),)
        self.desired_input_layouts = (Shard(-1),)
        self.use_local_output = use_local_output

    def _apply(self, module, device_mesh):
        from ....nn import Linear
        if not isinstance(module, Linear):
            raise NotImplementedError("RowwiseParallel currently only support nn.Linear (ttorch: not nn.Embedding)!")

        def partition(name, mod, mesh):
            if mod is module:
                _shard_params(mod, mesh, Shard(1), self.src_data_rank, only=("weight",))
                _shard_params(mod, mesh, Replicate(), self.src_data_rank, only=("bias",))

        def inputs(mod, args, mesh):
            return (_to_dtensor(args[0], mesh, self.input_layouts, self.desired_input_layouts),) + tuple(args[1:])
        return distribute_module(module, device_mesh, partition, inputs,
                                 partial(lambda lay, loc, mod, out, mesh: _finish(out, lay, loc),
                                         self.output_layouts, self.use_local_output))

    __repr__ = ColwiseParallel.__repr__


class SequenceParallel(ParallelStyle):
    """Replicate a module's parameters and run it on inputs sharded along ``sequence_dim``
    (``nn.LayerNorm``, ``nn.Dropout``, ``RMSNorm``...).

    Args:
        sequence_dim (int): the sharded dim of the input. Default: 1.
        use_local_output (bool): return the local tensor rather than the DTensor. Default: False.
    """

    def __init__(self, *, sequence_dim=1, use_local_output=False):
        self.sequence_sharding = (Shard(sequence_dim),)
        self.use_local_output = use_local_output

    def _apply(self, module, device_mesh):
        def partition(name, mod, mesh):
            _shard_params(mod, mesh, Replicate(), self.src_data_rank)

        def inputs(mod, args, mesh):
            return (_to_dtensor(args[0], mesh, self.sequence_sharding, self.sequence_sharding),) + tuple(args[1:])

        def outputs(mod, out, mesh):
            return out.to_local() if self.use_local_output else out
        return distribute_module(module, device_mesh, partition, inputs, outputs)

    def __repr__(self):
        return f"{type(self).__name__}(sequence_dim={self.sequence_sharding[0].dim}, " \
               f"use_local_output={self.use_local_output})"


class PrepareModuleInput(ParallelStyle):
    """Lay out a module's positional inputs: ``input_layouts[i]`` says how a plain input ``i`` is laid out (None:
    leave it alone), ``desired_input_layouts[i]`` where it goes.

    Args:
        input_layouts (Placement or tuple): the inputs' layouts.
        desired_input_layouts (Placement or tuple): their layouts for the module.
        use_local_output (bool): hand the module local tensors. Default: False.
    """

    def __init__(self, *, input_layouts=None, desired_input_layouts=None, input_kwarg_layouts=None,
                 desired_input_kwarg_layouts=None, use_local_output=False):
        if input_kwarg_layouts or desired_input_kwarg_layouts:
            raise NotImplementedError("ttorch's PrepareModuleInput takes positional input layouts only")
        wrap = lambda p: (p,) if p is None or not isinstance(p, (tuple, list)) else tuple(p)
        self.input_layouts = wrap(input_layouts)
        self.desired_input_layouts = wrap(desired_input_layouts)
        if len(self.input_layouts) != len(self.desired_input_layouts):
            raise AssertionError("input_layouts and desired_input_layouts should have same length!")
        self.use_local_output = use_local_output

    def _apply(self, module, device_mesh):
        def hook(mod, args):
            out = list(args)
            for i, (lay, want) in enumerate(zip(self.input_layouts, self.desired_input_layouts)):
                if lay is None or i >= len(out):
                    continue
                t = _to_dtensor(out[i], device_mesh, (lay,), (want,))
                out[i] = t.to_local() if self.use_local_output else t
            return tuple(out)
        module.register_forward_pre_hook(hook)
        return module

    def __repr__(self):
        return f"{type(self).__name__}(input_layouts={self.input_layouts}, " \
               f"desired_input_layouts={self.desired_input_layouts}, use_local_output={self.use_local_output})"
