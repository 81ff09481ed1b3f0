"""Event files: TFRecord framing and the background thread that writes them (TensorBoard's design).

A record is ``uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)``, all
little-endian. ``add_event`` puts serialized events on a bounded queue (``max_queue``, so a stalled disk
slows the training loop instead of growing memory); a daemon thread writes them and flushes the file every
``flush_secs``. ``flush()`` waits for the queue to drain, so after it every event so far is on disk.
"""
import itertools
import os
import queue
import socket
import struct
import threading
import time

from . import _proto
from ._crc32c import masked_crc32c

__all__ = ["RecordWriter", "EventFileWriter"]

_uid = itertools.count()            # the file-name counter shared by every writer of the process
_uid_lock = threading.Lock()


class RecordWriter:
    """Writes TFRecord-framed byte strings to a binary file object."""

    def __init__(self, writer):
        self._writer = writer

    def write(self, data):
        header = struct.pack("<Q", len(data))
        self._writer.write(header + struct.pack("<I", masked_crc32c(header)) + data
                           + struct.pack("<I", masked_crc32c(data)))

    def flush(self):
        self._writer.flush()

    def close(self):
        self._writer.close()

    @property
    def closed(self):
        return self._writer.closed


class _AsyncWriterThread(threading.Thread):
    """Drains the queue into the record writer; flushes at most every ``flush_secs``."""

    def __init__(self, byte_queue, record_writer, flush_secs):
        super().__init__(daemon=True)
        self.exception = None
        self._queue = byte_queue
        self._record_writer = record_writer
        self._flush_secs = flush_secs
        self._next_flush_time = 0.0        # the first record is flushed at once
        self._pending = False
        self.shutdown_signal = object()

    def run(self):
        try:
            while True:
                wait = self._next_flush_time - time.time()
                data = None
                try:
                    data = self._queue.get(True, wait) if wait > 0 else self._queue.get(False)
                    if data is self.shutdown_signal:
                        return
                    self._record_writer.write(data)
                    self._pending = True
                except queue.Empty:
                    pass
                finally:
                    if data is not None:
                        self._queue.task_done()
                now = time.time()
                if now > self._next_flush_time:
                    if self._pending:
                        self._record_writer.flush()
                        self._pending = False
                    self._next_flush_time = now + self._flush_secs
        except Exception as ex:        # surfaced on the caller's next write/flush
            self.exception = ex
            try:                       # unblock producers waiting on a full queue or on join()
                while True:
                    self._queue.get(False)
                    self._queue.task_done()
            except queue.Empty:
                pass


class EventFileWriter:
    """Creates ``events.out.tfevents.<time>.<host>.<pid>.<n><suffix>`` in ``logdir`` and writes events to it.

    Its first event holds ``file_version="brain.Event:2"`` and, unlike TensorBoard's, names
    "ttorch.utils.tensorboard" as ``source_metadata.writer``. Events are passed serialized (bytes).

    Args:
        logdir (str): directory of the event file (created if missing).
        max_queue_size (int): pending events before ``add_event`` blocks. Default: 10.
        flush_secs (float): how often the background thread flushes the file. Default: 120.
        filename_suffix (str): appended to the file name. Default: "".
    """

    def __init__(self, logdir, max_queue_size=10, flush_secs=120, filename_suffix=""):
        self._logdir = str(logdir)
        os.makedirs(self._logdir, exist_ok=True)
        with _uid_lock:
            uid = next(_uid)
        name = "events.out.tfevents.%010d.%s.%s.%s" % (time.time(), socket.gethostname(), os.getpid(), uid)
        self._file_name = os.path.join(self._logdir, name) + filename_suffix
        self._record_writer = RecordWriter(open(self._file_name, "wb"))
        self._queue = queue.Queue(max_queue_size)
        self._lock = threading.Lock()
        self._closed = False
        self._worker = _AsyncWriterThread(self._queue, self._record_writer, flush_secs)
        self._worker.start()
        self.add_event(_proto.event(wall_time=time.time(), file_version="brain.Event:2",
                                    source_writer="ttorch.utils.tensorboard"))
        self.flush()

    def get_logdir(self):
        """The directory of the event file."""
        return self._logdir

    def _check_worker(self):
        if self._worker.exception is not None:
            raise self._worker.exception

    def add_event(self, event):
        """Queue one serialized ``Event`` (bytes) for writing."""
        if not isinstance(event, (bytes, bytearray)):
            raise TypeError(f"Expected a serialized Event (bytes), but got {type(event)}")
        with self._lock:
            self._check_worker()
            if self._closed:
                raise IOError("Writer is closed")
            self._queue.put(bytes(event))
            self._check_worker()

    def flush(self):
        """Block until every queued event is written, then flush the file."""
        with self._lock:
            self._check_worker()
            if self._closed:
                raise IOError("Writer is closed")
            self._queue.join()
            self._record_writer.flush()
            self._check_worker()

    def close(self):
        """Write what is queued, stop the thread and close the file (a second call does nothing)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(self._worker.shutdown_signal)
            self._worker.join()
            if not self._record_writer.closed:
                self._record_writer.flush()
                self._record_writer.close()
