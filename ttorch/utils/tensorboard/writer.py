"""``SummaryWriter``: PyTorch's TensorBoard logger, writing event files without the tensorboard package."""
import os
import socket
import time
from datetime import datetime

from . import _embedding, _proto
from ._event_file_writer import EventFileWriter
from ._image import figure_to_image
from .summary import (audio, custom_scalars, histogram, histogram_raw, hparams, image, image_boxes, make_np,
                      pr_curve, pr_curve_raw, scalar, tensor_proto, text)

__all__ = ["FileWriter", "SummaryWriter"]


class FileWriter:
    """Writes serialized ``Event``/``Summary`` protobufs (bytes) to one event file in ``log_dir``.

    PyTorch's takes protobuf message objects; ttorch has no protobuf dependency, so it takes their bytes.

    Args:
        log_dir (str): directory of the event file.
        max_queue (int): pending events before an ``add`` call blocks on the writer thread. Default: 10.
        flush_secs (float): how often pending events are flushed to disk. Default: 120.
        filename_suffix (str): suffix of the event file name. Default: "".
    """

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self.event_writer = EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        """Return the directory where event file will be written."""
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        """Add a serialized ``Event``. Its wall time (and ``step`` if given) are appended as later fields,
        which protobuf parsers take over earlier ones, the bytes equivalent of PyTorch setting them."""
        event = bytes(event) + _proto.f_double(1, time.time() if walltime is None else walltime, always=True)
        if step is not None:
            event += _proto.f_varint(2, int(step), always=True)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        """Wrap a serialized ``Summary`` in an ``Event`` and add it."""
        wall = time.time() if walltime is None else walltime
        step = 0 if global_step is None else int(global_step)
        self.event_writer.add_event(_proto.event(wall_time=wall, step=step, summary=summary))

    def flush(self):
        """Write every pending event to disk."""
        self.event_writer.flush()

    def close(self):
        """Flush and close the event file."""
        self.event_writer.close()


class SummaryWriter:
    """Writes entries directly to event files in ``log_dir`` to be consumed by TensorBoard.

    Events go through a bounded queue to a background thread (as in PyTorch): ``add_*`` returns at once,
    ``flush()`` blocks until everything added so far is on disk, ``close()`` flushes and stops the thread.
    Values may be ttorch Tensors on any device, NumPy arrays or Python numbers.

    Args:
        log_dir (str): save directory. Default: ``runs/<Mon DD_HH-MM-SS>_<hostname><comment>``.
        comment (str): suffix of the default ``log_dir``; ignored when ``log_dir`` is given.
        purge_step (int): on resuming at step T, hide events with step >= T written before the crash.
        max_queue (int): pending events before an ``add`` call blocks. Default: 10.
        flush_secs (int): how often pending events are flushed to disk. Default: 120.
        filename_suffix (str): suffix of the event file names.

    Example::

        >>> from ttorch.utils.tensorboard import SummaryWriter
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as logdir, SummaryWriter(logdir) as writer:
        ...     for i in range(3):
        ...         writer.add_scalar("loss", 1.0 / (i + 1), i)
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if not log_dir:
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self._get_file_writer()
        # TensorBoard's default bins: +-1e-12 * 1.1**k up to 1e20, and 0
        v, buckets = 1e-12, []
        while v < 1e20:
            buckets.append(v)
            v *= 1.1
        self.default_bins = [-b for b in buckets[::-1]] + [0] + buckets

    def _get_file_writer(self):
        """Return the default FileWriter, recreating it after ``close()``."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step, now = self.purge_step, time.time()
                writer = self.file_writer.event_writer
                writer.add_event(_proto.event(wall_time=now, step=step, file_version="brain.Event:2"))
                writer.add_event(_proto.event(wall_time=now, step=step, session_log_status=1))    # START
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        """Return the directory where event files will be written."""
        return self.log_dir

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None, global_step=None):
        """Add hyperparameters and their metrics for the HParams dashboard (in a sub-run ``run_name``)."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        exp, ssi, sei = hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        if not run_name:
            run_name = str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w_hp:
            for s in (exp, ssi, sei):
                w_hp.file_writer.add_summary(s, global_step)
            for k, v in metric_dict.items():
                w_hp.add_scalar(k, v, global_step)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        """Add a scalar (a number or a one-element tensor/array) under ``tag``."""
        summary = scalar(tag, scalar_value, new_style=new_style, double_precision=double_precision)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Add several scalars to one chart: each goes to the run ``<log_dir>/<main_tag>_<tag>``."""
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, scalar_value in tag_scalar_dict.items():
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            if fw_tag in self.all_writers:
                fw = self.all_writers[fw_tag]
            else:
                fw = FileWriter(fw_tag, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[fw_tag] = fw
            fw.add_summary(scalar(main_tag, scalar_value), global_step, walltime)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        """Add a whole ttorch Tensor as a ``TensorProto``."""
        self._get_file_writer().add_summary(tensor_proto(tag, tensor), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        """Add a histogram of ``values``; ``bins`` is "tensorflow" (TensorBoard's exponential bins) or
        anything ``numpy.histogram`` takes ("auto", "fd", an int, edges)."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._get_file_writer().add_summary(histogram(tag, values, bins, max_bins=max_bins), global_step, walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts,
                          global_step=None, walltime=None):
        """Add a histogram from precomputed statistics and bucket upper limits/counts."""
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        summary = histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """Add an image: float in [0, 1] or uint8, shaped per ``dataformats`` ("CHW", "HWC", "HW", ...)."""
        self._get_file_writer().add_summary(image(tag, img_tensor, dataformats=dataformats), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        """Add a batch of images, tiled into one grid of 8 columns."""
        self._get_file_writer().add_summary(image(tag, img_tensor, dataformats=dataformats), global_step, walltime)

    def add_image_with_boxes(self, tag, img_tensor, box_tensor, global_step=None, walltime=None, rescale=1,
                             dataformats="CHW", labels=None):
        """Add an image with ``(xmin, ymin, xmax, ymax)`` boxes drawn on it (the drawing needs ``pillow``)."""
        if labels is not None:
            if isinstance(labels, str):
                labels = [labels]
            if len(labels) != box_tensor.shape[0]:
                labels = None
        summary = image_boxes(tag, img_tensor, box_tensor, rescale=rescale, dataformats=dataformats, labels=labels)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """Render a matplotlib figure (or a list of them) and add it as an image (needs ``matplotlib``)."""
        fmt = "NCHW" if isinstance(figure, list) else "CHW"
        self.add_image(tag, figure_to_image(figure, close), global_step, walltime, dataformats=fmt)

    def add_audio(self, tag, snd_tensor, global_step=None, sample_rate=44100, walltime=None):
        """Add mono audio, samples in [-1, 1], as a 16-bit WAV."""
        self._get_file_writer().add_summary(audio(tag, snd_tensor, sample_rate=sample_rate), global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Add a (markdown) string under ``tag + "/text_summary"``."""
        self._get_file_writer().add_summary(text(tag, text_string), global_step, walltime)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """Not supported: PyTorch builds the GraphDef from ``torch.jit.trace``, which ttorch does not have."""
        raise NotImplementedError("SummaryWriter.add_graph is not supported by ttorch: it needs a TorchScript "
                                  "trace of the model to build the graph. Log the model's printout with "
                                  "add_text(tag, str(model)) instead.")

    def add_onnx_graph(self, prototxt):
        """Not supported: ttorch does not read ONNX files."""
        raise NotImplementedError("SummaryWriter.add_onnx_graph is not supported by ttorch.")

    def add_video(self, tag, vid_tensor, global_step=None, fps=4, walltime=None):
        """Not supported: encoding the GIF needs ``moviepy``; ttorch logs nothing (PyTorch prints the same
        message and writes an empty value when moviepy is missing)."""
        print("add_video needs package moviepy")

    def add_mesh(self, tag, vertices, colors=None, faces=None, config_dict=None, global_step=None, walltime=None):
        """Not supported: the mesh plugin's metadata is not implemented in ttorch."""
        raise NotImplementedError("SummaryWriter.add_mesh is not supported by ttorch.")

    @staticmethod
    def _encode(rawstr):
        return rawstr.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None, tag="default",
                      metadata_header=None):
        """Add an ``(N, D)`` embedding for the projector, with optional labels and ``(N, C, H, W)`` images."""
        mat = make_np(mat)
        if global_step is None:
            global_step = 0
        subdir = f"{str(global_step).zfill(5)}/{self._encode(tag)}"
        save_path = os.path.join(self._get_file_writer().get_logdir(), subdir)
        if os.path.exists(save_path):
            if os.path.isdir(save_path):
                print("warning: Embedding dir exists, did you set global_step for add_embedding()?")
            else:
                raise NotADirectoryError(f"Path: `{save_path}` exists, but is a file. Cannot proceed.")
        else:
            os.makedirs(save_path)
        if metadata is not None:
            if mat.shape[0] != len(metadata):
                raise AssertionError("#labels should equal with #data points")
            _embedding.make_tsv(metadata, save_path, metadata_header=metadata_header)
        if label_img is not None:
            if mat.shape[0] != label_img.shape[0]:
                raise AssertionError("#images should equal with #data points")
            _embedding.make_sprite(make_np(label_img), save_path)
        if mat.ndim != 2:
            raise AssertionError("mat should be 2D, where mat.size(0) is the number of data points")
        _embedding.make_mat(mat, save_path)
        # the config is rewritten whole each time: file systems need not support appending
        if not hasattr(self, "_projector_config"):
            self._projector_config = []
        self._projector_config.append(_embedding.embedding_info(metadata, label_img, subdir, global_step, tag))
        _embedding.write_pbtxt(self._get_file_writer().get_logdir(),
                               _embedding.projector_config(self._projector_config))

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127, weights=None,
                     walltime=None):
        """Add a precision-recall curve from binary ``labels`` and ``predictions`` in [0, 1]."""
        labels, predictions = make_np(labels), make_np(predictions)
        summary = pr_curve(tag, labels, predictions, num_thresholds, weights)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_pr_curve_raw(self, tag, true_positive_counts, false_positive_counts, true_negative_counts,
                         false_negative_counts, precision, recall, global_step=None, num_thresholds=127,
                         weights=None, walltime=None):
        """Add a precision-recall curve from precomputed counts, precision and recall."""
        summary = pr_curve_raw(tag, true_positive_counts, false_positive_counts, true_negative_counts,
                               false_negative_counts, precision, recall, num_thresholds, weights)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_custom_scalars_multilinechart(self, tags, category="default", title="untitled"):
        """A custom chart with several scalar ``tags`` as lines."""
        self._get_file_writer().add_summary(custom_scalars({category: {title: ["Multiline", tags]}}))

    def add_custom_scalars_marginchart(self, tags, category="default", title="untitled"):
        """A custom chart of a value with lower and upper margins (exactly 3 ``tags``)."""
        if len(tags) != 3:
            raise AssertionError(f"Expected 3 tags, got {len(tags)}.")
        self._get_file_writer().add_summary(custom_scalars({category: {title: ["Margin", tags]}}))

    def add_custom_scalars(self, layout):
        """Custom charts: ``{category: {chart: ["Multiline" or "Margin", [tags]]}}``."""
        self._get_file_writer().add_summary(custom_scalars(layout))

    def flush(self):
        """Write all pending events of every run of this writer to disk."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        """Flush and close every event file (a second call does nothing; a later ``add`` reopens)."""
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()

