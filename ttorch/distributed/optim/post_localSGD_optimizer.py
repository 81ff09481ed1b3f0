"""``PostLocalSGDOptimizer``: a local optimizer whose every step is followed by a model averager's
(``model_averaging.averagers``): post-local SGD with ``post_localSGD_hook``."""
import warnings

from ...optim.optimizer import Optimizer

__all__ = ["PostLocalSGDOptimizer"]


class PostLocalSGDOptimizer(Optimizer):
    """Wraps ``optim`` (the local optimizer) and ``averager``: ``step()`` runs ``optim.step()`` then
    ``averager.average_parameters(self.param_groups)``. ``state_dict`` records the averager's step as
    ``"step"`` so a reload does not warm up again.

    Example::

        opt = PostLocalSGDOptimizer(ttorch.optim.SGD(model.parameters(), lr=0.01),
                                    averagers.PeriodicModelAverager(period=4, warmup_steps=100))
    """

    def __init__(self, optim, averager):
        self.optim = optim
        self.param_groups = self.optim.param_groups
        self.averager = averager

    @property
    def state(self):
        return self.optim.state

    def __repr__(self):
        return self.optim.__repr__()

    def state_dict(self):
        sd = self.optim.state_dict()
        sd["step"] = self.averager.step
        return sd

    def load_state_dict(self, state_dict):
        self.optim.load_state_dict(state_dict)
        if "step" in state_dict:
            self.averager.step = state_dict["step"]
        else:
            warnings.warn("Loaded state dict does not contain a step counter for an averager. Setting step counter "
                          "to 0.", stacklevel=2)
            self.averager.step = 0

    def step(self):
        """One local update, then the averager's turn."""
        self.optim.step()
        self.averager.average_parameters(params=self.param_groups)

    def zero_grad(self, set_to_none=True):
        self.optim.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group):
        self.optim.add_param_group(param_group)


# the wrapped optimizer's step runs the step hooks; PyTorch's wrapper (which skips Optimizer.__init__) runs none
PostLocalSGDOptimizer.step = PostLocalSGDOptimizer.step.__wrapped__
