"""Autograd: recorded graphs walked backward (``engine``), and grad modes."""
from .grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled
from .engine import backward, grad, Node
