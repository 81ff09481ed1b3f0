"""``ttorch.utils.tensorboard``: ``SummaryWriter`` writing TensorBoard event files.

Unlike PyTorch's, it needs neither the ``tensorboard`` package nor ``protobuf``: the protobuf messages,
TFRecord framing (CRC-32C) and PNG images are encoded here. Imported on demand, as in PyTorch:
``from ttorch.utils.tensorboard import SummaryWriter``. ``add_graph``, ``add_onnx_graph`` and ``add_mesh``
raise ``NotImplementedError``; ``add_video`` needs moviepy and, as PyTorch without it, only prints so.
"""
from ._event_file_writer import RecordWriter
from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "RecordWriter", "SummaryWriter"]
