"""``BatchNorm1d/2d/3d`` and ``_NormBase``, the base they share with the instance norms.

Buffers and state-dict keys are PyTorch's: ``running_mean``, ``running_var`` and the int64
``num_batches_tracked`` (``None`` when ``track_running_stats=False``); ``weight``/``bias``
when ``affine``. ``momentum=None`` makes the running statistics a cumulative average.
``LazyBatchNorm1d/2d/3d`` infer ``num_features`` from their first input.
"""
from .. import functional as F
from .. import init
from ... import _dtype as D
from ... import distributed as dist
from ...ops.creation import empty, zeros, ones, tensor
from ._functions import SyncBatchNorm as _SyncBatchNormFn
from ..parameter import Parameter, UninitializedParameter, UninitializedBuffer
from .lazy import LazyModuleMixin
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d"]


class _NormBase(Module):
    """Common base of batch and instance norms: parameters, running statistics, their reset."""

    _version = 2
    __constants__ = ["track_running_stats", "momentum", "eps", "num_features", "affine"]

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(empty(num_features, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(empty(num_features, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=D.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:       # made with bias=False
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            # checkpoints older than version 2 have no num_batches_tracked: start it at 0
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                state_dict[key] = tensor(0, dtype=D.int64)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            # momentum=None: a cumulative moving average, 1/n of the n-th batch
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        # buffers are used in eval mode, or in training when they are tracked
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_buffers = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if use_buffers else None,
                            self.running_var if use_buffers else None, self.weight, self.bias, bn_training,
                            factor, self.eps)


class BatchNorm1d(_BatchNorm):
    r"""Batch normalization over a 2D ``(N, C)`` or 3D ``(N, C, L)`` input:
    ``y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta`` per channel.

    Args:
        num_features (int): ``C``. eps (float): added to the variance. Default: 1e-5.
        momentum (float or None): running-statistics factor; None: cumulative average. Default: 0.1.
        affine (bool): learn ``weight``/``bias``. Default: True.
        track_running_stats (bool): keep running statistics for eval mode. Default: True.
        bias (bool, keyword only): learn ``bias`` too (with ``affine``). Default: True.

    Example::

        >>> BatchNorm1d(3)(ttorch.randn(4, 3)).shape
        ttorch.Size([4, 3])
    """

    def _check_input_dim(self, input):
        if input.dim() != 2 and input.dim() != 3:
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    r"""Batch normalization over a 4D ``(N, C, H, W)`` input (see ``BatchNorm1d``)."""

    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    r"""Batch normalization over a 5D ``(N, C, D, H, W)`` input (see ``BatchNorm1d``)."""

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class _LazyNormBase(LazyModuleMixin, _NormBase):
    """Lazy batch and instance norms: built with no features, then given uninitialized tensors."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *,
                 bias=True):
        super().__init__(0, eps, momentum, False, False, device, dtype, bias=False)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if self.affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, dtype=D.int64, device=device)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        """Infer ``num_features`` from ``input.shape[1]`` and initialize the parameters and buffers."""
        if self.num_features == 0:
            # checked before the shapes are fixed, and inferred even when a state dict has materialized
            # the tensors (PyTorch leaves 0 there, which its instance norms then reject)
            self._check_input_dim(input)
            self.num_features = input.shape[1]
        if self.has_uninitialized_params():
            for t in (self.weight, self.bias, self.running_mean, self.running_var):
                if t is not None:
                    t.materialize((self.num_features,))
            self.reset_parameters()


class LazyBatchNorm1d(_LazyNormBase, _BatchNorm):
    r"""A ``BatchNorm1d`` whose ``num_features`` is inferred from ``input.size(1)`` on the first call,
    after which it becomes a ``BatchNorm1d`` (see ``LazyModuleMixin``).

    Args:
        eps, momentum, affine, track_running_stats: as ``BatchNorm1d``'s.
        bias (bool, keyword only): learn ``bias`` (with ``affine``). Default: True.

    Example::

        >>> m = LazyBatchNorm1d()
        >>> m(ttorch.randn(4, 3)).shape, m.running_mean.shape, type(m).__name__
        (ttorch.Size([4, 3]), ttorch.Size([3]), 'BatchNorm1d')
    """

    cls_to_become = BatchNorm1d
    _check_input_dim = BatchNorm1d._check_input_dim


class LazyBatchNorm2d(_LazyNormBase, _BatchNorm):
    r"""A ``BatchNorm2d`` whose ``num_features`` is inferred from the first input (see ``LazyBatchNorm1d``)."""

    cls_to_become = BatchNorm2d
    _check_input_dim = BatchNorm2d._check_input_dim


class LazyBatchNorm3d(_LazyNormBase, _BatchNorm):
    r"""A ``BatchNorm3d`` whose ``num_features`` is inferred from the first input (see ``LazyBatchNorm1d``)."""

    cls_to_become = BatchNorm3d
    _check_input_dim = BatchNorm3d._check_input_dim


class SyncBatchNorm(_BatchNorm):
    r"""Batch normalization over any ``(N, C, *)`` input whose training statistics span the processes of
    ``process_group`` (the default group when None): each rank passes its share of the batch, and the
    outputs, the running statistics and the input gradients are those of the whole batch. ``weight`` and
    ``bias`` gradients are each rank's own, for ``DistributedDataParallel`` to average.

    Statistics are local (as ``BatchNorm``'s) in eval mode, with no initialized process group, or with a
    group of one rank. ``convert_sync_batchnorm`` turns a model's batch norms into it. Unlike PyTorch's,
    which raises ``ValueError`` for cpu tensors in a process group, it synchronizes cpu tensors too.

    Args:
        num_features, eps, momentum, affine, track_running_stats: as ``BatchNorm1d``'s.
        process_group (ProcessGroup, optional): the ranks to synchronize over. Default: the world.

    Example::

        >>> m = SyncBatchNorm.convert_sync_batchnorm(ttorch.nn.Sequential(ttorch.nn.BatchNorm2d(3)))
        >>> type(m[0]).__name__, m[0](ttorch.randn(2, 3, 4, 4)).shape
        ('SyncBatchNorm', ttorch.Size([2, 3, 4, 4]))
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype,
                         bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _check_non_zero_input_channels(self, input):
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def forward(self, input):
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        world_size = 1
        # only batch statistics in training are synchronized; eval mode uses the running ones
        if self.training and dist.is_initialized():
            group = self.process_group or dist.group.WORLD
            world_size = dist.get_world_size(group)
        if world_size <= 1:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        running_mean = self.running_mean if self.track_running_stats else None
        running_var = self.running_var if self.track_running_stats else None
        return _SyncBatchNormFn.apply(input, self.weight, self.bias, running_mean, running_var, self.eps, factor,
                                      group, world_size)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every ``BatchNorm*d`` in it replaced by a ``SyncBatchNorm`` holding the same
        parameters (the same objects) and running statistics."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
