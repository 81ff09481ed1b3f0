"""``CheckpointException``: a save or load failed on some ranks (PyTorch's ``checkpoint.api``)."""
import traceback as tb

__all__ = ["CheckpointException"]


def _wrap_exception(exc):
    """``(exc, its stack summary)``: what a failing rank sends the coordinator."""
    summary = tb.extract_tb(exc.__traceback__)
    for frame in summary:
        if hasattr(frame, "_code"):
            object.__setattr__(frame, "_code", None)      # (code objects do not pickle)
    return (exc, summary)


def _is_wrapped_exception(obj):
    return isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], BaseException) and \
        isinstance(obj[1], tb.StackSummary)


class CheckpointException(BaseException):
    """Raised on every rank when a save or load step failed on some: ``failures`` maps each failing rank to
    ``(exception, stack summary)``."""

    def __init__(self, msg, failures):
        super().__init__(msg, failures)
        self._failures = failures

    @property
    def failures(self):
        return self._failures

    def __str__(self):
        out = f"CheckpointException ranks:{self._failures.keys()}\n"
        for rank, (exc, trace) in self._failures.items():
            out += f"Traceback (most recent call last): (RANK {rank})\n"
            if trace is not None:
                out += "".join(tb.format_list(trace))
            out += "".join(tb.format_exception_only(type(exc), exc))
        return out
