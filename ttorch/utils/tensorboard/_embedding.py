"""Projector files for ``add_embedding``: tensors.tsv, metadata.tsv, sprite.png and projector_config.pbtxt.

The layout and contents follow ``torch.utils.tensorboard._embedding``; the config is written in protobuf
text format by hand (``ProjectorConfig{embeddings: EmbeddingInfo{tensor_name, metadata_path, sprite,
tensor_path}}``), in the field order protobuf's ``text_format`` prints.
"""
import math
import os

import numpy as np

from ._image import encode_png, make_grid

__all__ = ["make_tsv", "make_sprite", "make_mat", "embedding_info", "projector_config", "write_pbtxt"]


def make_tsv(metadata, save_path, metadata_header=None):
    """metadata.tsv: one label per line, or a header line and tab-separated columns."""
    if not metadata_header:
        metadata = [str(x) for x in metadata]
    else:
        if len(metadata_header) != len(metadata[0]):
            raise AssertionError("len of header must be equal to the number of columns in metadata")
        metadata = ["\t".join(str(e) for e in row) for row in [metadata_header] + metadata]
    with open(os.path.join(save_path, "metadata.tsv"), "wb") as f:
        f.write(("\n".join(metadata) + "\n").encode("utf-8"))


def make_sprite(label_img, save_path):
    """sprite.png: the label images tiled in a square grid (the projector expects a square sprite)."""
    nrow = math.ceil(label_img.shape[0] ** 0.5)
    arranged_img_CHW = make_grid(label_img, ncols=nrow)
    # a square canvas as wide as the grid, so that #images fits nrow * nrow
    square_HWC = np.zeros((arranged_img_CHW.shape[2], arranged_img_CHW.shape[2], 3))
    arranged_img_HWC = arranged_img_CHW.transpose(1, 2, 0)
    square_HWC[:arranged_img_HWC.shape[0], :, :] = arranged_img_HWC
    with open(os.path.join(save_path, "sprite.png"), "wb") as f:
        f.write(encode_png(np.uint8((square_HWC * 255).clip(0, 255))))


def make_mat(matlist, save_path):
    """tensors.tsv: one embedding per line, tab-separated Python reprs of the values."""
    with open(os.path.join(save_path, "tensors.tsv"), "wb") as f:
        for x in matlist:
            f.write(("\t".join(str(i.item()) for i in x) + "\n").encode("utf-8"))


def _quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def embedding_info(metadata, label_img, subdir, global_step, tag):
    """One ``embeddings { ... }`` block of the projector config, as text."""
    lines = [f"  tensor_name: {_quote(f'{tag}:{str(global_step).zfill(5)}')}"]
    if metadata is not None:
        lines.append(f"  metadata_path: {_quote(os.path.join(subdir, 'metadata.tsv'))}")
    if label_img is not None:
        lines += ["  sprite {", f"    image_path: {_quote(os.path.join(subdir, 'sprite.png'))}",
                  f"    single_image_dim: {label_img.shape[3]}", f"    single_image_dim: {label_img.shape[2]}", "  }"]
    lines.append(f"  tensor_path: {_quote(os.path.join(subdir, 'tensors.tsv'))}")
    return "embeddings {\n" + "\n".join(lines) + "\n}\n"


def projector_config(infos):
    """The whole ``ProjectorConfig`` text from its embedding blocks."""
    return "".join(infos)


def write_pbtxt(save_path, contents):
    with open(os.path.join(save_path, "projector_config.pbtxt"), "wb") as f:
        f.write(contents.encode("utf-8"))
