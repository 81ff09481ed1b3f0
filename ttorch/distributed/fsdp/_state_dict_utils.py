"""FSDP's full parameters and state dicts: ``summon_full_params`` puts each unit's original parameters back on
their modules with their gathered values (and shards them back on leaving), and the state dicts are built on
it (``FULL_STATE_DICT``: the original module's keys and full values; ``LOCAL_STATE_DICT``: the shards). A mixin
of ``FullyShardedDataParallel`` (``fully_sharded_data_parallel.py``)."""
import contextlib

from ...autograd import grad_mode
from .api import FullStateDictConfig, LocalStateDictConfig, ShardingStrategy, StateDictSettings, StateDictType

_PREFIX = "_fsdp_wrapped_module."


def _units_of(module):
    return [m for m in module.modules() if isinstance(m, _FullParams)]


class _FullParams:
    """``FullyShardedDataParallel``'s full-parameter and state-dict methods (PyTorch's names)."""

    @staticmethod
    @contextlib.contextmanager
    def summon_full_params(module, recurse=True, writeback=True, rank0_only=False, offload_to_cpu=False,
                           with_grads=False):
        """Within the context, every unit's original parameters hold their full values (nn.Parameters on
        their modules again); with ``writeback`` their values on leaving are sharded back."""
        if with_grads:
            raise NotImplementedError("summon_full_params(with_grads=True) is not implemented in ttorch")
        units = _units_of(module) if recurse else \
            [module] if isinstance(module, _FullParams) else []
        units = [u for u in units if u._flat is not None]
        for u in units:
            u._summon()
        try:
            yield
        finally:
            for u in reversed(units):
                u._unsummon(writeback and not (rank0_only and u._rank != 0))

    def _summon(self):
        self._summoned = getattr(self, "_summoned", 0) + 1
        if self._summoned > 1:          # (nested: a unit's state_dict inside its parent's summon)
            return
        with grad_mode.no_grad():
            full = self._gather(self._flat).to(self._flat.dtype)
        wrapped = self._fsdp_wrapped_module
        wrapped._parameters.pop("_flat_param", None)
        for p, ps, off, n, shape in zip(self._params, self._places, self._offsets, self._numels, self._shapes):
            p.data = full[off:off + n].view(shape).clone()
            for m, name in ps:
                m.__dict__.pop(name, None)
                m._parameters[name] = p

    def _unsummon(self, writeback):
        from ...ops import FUNCTIONS as F
        self._summoned -= 1
        if self._summoned:
            return
        if writeback:
            with grad_mode.no_grad():
                flat = F["cat"]([p.detach().reshape(-1).to(self._flat.device, self._flat.dtype)
                                 for p in self._params])
                lo = self._rank * self._chunk if self.sharding_strategy is not ShardingStrategy.NO_SHARD else 0
                part = flat[lo:lo + self._chunk]
                self._flat.data[:part.numel()].copy_(part)
        for p, ps in zip(self._params, self._places):
            for m, name in ps:
                m._parameters.pop(name, None)
            _empty(p)
        self._drop_views()
        self._fsdp_wrapped_module.register_parameter("_flat_param", self._flat)

    # ------------------------------------------------------------------ state dicts
    @staticmethod
    def set_state_dict_type(module, state_dict_type, state_dict_config=None, optim_state_dict_config=None):
        """Set the state-dict type of every unit in ``module``; returns the previous settings."""
        units = _units_of(module)
        if not units:
            raise RuntimeError("set_state_dict_type: no FSDP module found")
        prev = StateDictSettings(units[0]._state_dict_type, units[0]._state_dict_config,
                                 units[0]._optim_state_dict_config)
        if state_dict_type is StateDictType.SHARDED_STATE_DICT:
            raise NotImplementedError("FSDP: SHARDED_STATE_DICT needs DTensor, which ttorch does not have; use "
                                      "FULL_STATE_DICT or LOCAL_STATE_DICT")
        default = FullStateDictConfig() if state_dict_type is StateDictType.FULL_STATE_DICT else LocalStateDictConfig()
        for u in units:
            u._state_dict_type = state_dict_type
            u._state_dict_config = state_dict_config or default
            u._optim_state_dict_config = optim_state_dict_config or u._optim_state_dict_config
        return prev

    @staticmethod
    def get_state_dict_type(module):
        u = _units_of(module)[0]
        return StateDictSettings(u._state_dict_type, u._state_dict_config, u._optim_state_dict_config)

    @staticmethod
    @contextlib.contextmanager
    def state_dict_type(module, state_dict_type, state_dict_config=None, optim_state_dict_config=None):
        """Within the context, ``state_dict``/``load_state_dict`` of ``module``'s units use this type."""
        prev = _FullParams.set_state_dict_type(module, state_dict_type, state_dict_config,
                                                            optim_state_dict_config)
        try:
            yield
        finally:
            _FullParams.set_state_dict_type(module, prev.state_dict_type, prev.state_dict_config,
                                                         prev.optim_state_dict_config)

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        if self._state_dict_type is not StateDictType.FULL_STATE_DICT:     # LOCAL: the shards themselves
            raw = super().state_dict(*args, prefix=prefix, keep_vars=keep_vars)
            out = destination if destination is not None else type(raw)()
            for k, v in raw.items():
                out[k.replace(_PREFIX, "")] = v
            return out
        cfg = self._state_dict_config
        with _FullParams.summon_full_params(self, writeback=False):
            raw = self._fsdp_wrapped_module.state_dict(keep_vars=keep_vars)
        if getattr(cfg, "rank0_only", False) and self.process_group.rank() != 0:
            return {} if destination is None else destination
        out = destination if destination is not None else type(raw)()
        for k, v in raw.items():
            out[prefix + k.replace(_PREFIX, "")] = v.cpu() if cfg.offload_to_cpu else v
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        if self._state_dict_type is not StateDictType.FULL_STATE_DICT:
            names = {k.replace(_PREFIX, ""): k for k in _raw_keys(self)}
            mapped = type(state_dict)((names.get(k, k), v) for k, v in state_dict.items())
            return super().load_state_dict(mapped, strict=strict, assign=assign)
        with _FullParams.summon_full_params(self, writeback=True):
            wrapped = self._fsdp_wrapped_module
            names = {k.replace(_PREFIX, ""): k for k in _raw_keys(wrapped)}
            mapped = type(state_dict)((names.get(k, k), v) for k, v in state_dict.items())
            result = wrapped.load_state_dict(mapped, strict=strict)
        return result


def _raw_keys(module):
    """The state-dict keys of ``module``'s tree as the modules hold them (the units' prefixes in them)."""
    keys = []
    for prefix, m in module.named_modules():
        pre = prefix + "." if prefix else ""
        keys += [pre + n for n, p in m._parameters.items() if p is not None]
        keys += [pre + n for n, b in m._buffers.items() if b is not None and n not in m._non_persistent_buffers_set]
    return keys


def _empty(p):
    """Free an original parameter's memory, keeping its shape (a stride-0 view of one element)."""
    p.data = p.data.new_zeros((1,)).expand(p.shape)
