"""``ttorch.optim``: PyTorch's optimizers; on cuda each updates a parameter with one fused Triton kernel
(LBFGS, Rprop, ASGD and Adafactor are written in ttorch ops and run the same code on both devices)."""
from .optimizer import Optimizer
from .sgd import SGD
from .adam import Adam, AdamW
from .rmsprop import RMSprop
from .adagrad import Adagrad
from .adadelta import Adadelta
from .adamax import Adamax
from .nadam import NAdam
from .radam import RAdam
from .rprop import Rprop
from .asgd import ASGD
from .adafactor import Adafactor
from .lbfgs import LBFGS
from .muon import Muon
from .sparse_adam import SparseAdam
from . import lr_scheduler, swa_utils
from ._stateless import swap_in_optimizer_params_and_state

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
           "Rprop", "ASGD", "Adafactor", "LBFGS", "Muon", "SparseAdam", "lr_scheduler", "swa_utils",
           "swap_in_optimizer_params_and_state"]
