"""``ttorch.nn.functional``: the math of every layer, in ttorch ops (both devices, differentiable).

Split by family into the files of this package; this module re-exports them all, so
``import ttorch.nn.functional as F`` works as in PyTorch.
"""
from ..._tensor import Tensor  # noqa: F401
from .normalization import *  # noqa: F401,F403
from .activation import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .pooling_indices import *  # noqa: F401,F403
from .spatial import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .ctc import *  # noqa: F401,F403
from .linear_cross_entropy import *  # noqa: F401,F403
from ...ops.scaled_mm import scaled_mm, ScalingType, SwizzleType  # noqa: F401,E402
from ...ops.grouped_mm import grouped_mm  # noqa: F401,E402
from .scaled_grouped_mm import scaled_grouped_mm  # noqa: F401,E402
from ..._torch_nn import conv_tbc  # noqa: F401,E402  (PyTorch's F re-exports these two ATen functions)
native_channel_shuffle = channel_shuffle  # noqa: F405
from ...overrides import (has_torch_function, has_torch_function_unary,  # noqa: F401,E402  (PyTorch's F has them)
                         has_torch_function_variadic, handle_torch_function)
