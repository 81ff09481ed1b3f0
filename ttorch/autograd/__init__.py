"""Autograd: recorded graphs walked backward (``engine``), and grad modes."""
from .grad_mode import (no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled)
from .engine import backward, grad, Node
from .function import Function
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .gradcheck import gradcheck, gradgradcheck, GradcheckError as _GradcheckError

# ``gradcheck`` names the function here, as in PyTorch; the documented paths
# ``torch.autograd.gradcheck.gradcheck`` and ``...gradcheck.GradcheckError`` resolve too
gradcheck.gradcheck, gradcheck.gradgradcheck, gradcheck.GradcheckError = gradcheck, gradgradcheck, _GradcheckError
from . import functional  # noqa: E402,F401  (ttorch.autograd.functional: jacobian, hessian, vjp...)
from . import forward_ad  # noqa: E402,F401  (ttorch.autograd.forward_ad: dual tensors)
from . import graph  # noqa: E402,F401  (ttorch.autograd.graph: saved-tensor hooks, nodes, edges)
from ._nested_io import NestedIOFunction  # noqa: E402,F401  (legacy nested-IO Function)
from . import variable as _variable_module  # noqa: E402,F401  (before the function of that name)
from ._legacy import (Variable, variable, set_multithreading_enabled,  # noqa: E402,F401  (old names and switches)
                      enforce_grad_layout_policy)
