"""``HistogramObserver``: a running histogram of the values seen (2048 bins over a range that widens as new data
arrives), and qparams from the sub-range that minimises the L2 quantization error (PyTorch's search, which
clips outliers). ``get_default_qconfig`` observes activations with it, as PyTorch's.

The statistics live on the host in NumPy float32, step for step as PyTorch's float32 tensor ops form them
(``histc``'s ``(x - lo) * bins / (hi - lo)``, floor division through ``fmod``, Python floats rounded to
float32 where a tensor op meets them). Differences from PyTorch: ``linspace`` takes its scalar formula
everywhere (PyTorch's vectorized blocks add the step once more), and sums of fractional bin counts may round in
another order: either can move a bin edge or an error comparison in rare near-ties.
"""
import warnings

import numpy as np

from ... import _quantized as Q
from .observer import UniformQuantizationObserverBase, _is_per_tensor, _EPS

_F = np.float32


def _histc(x, bins, lo, hi):
    """``torch.histc`` on the cpu (float32 ``x``; ``lo == hi``: the data's range, then +-1)."""
    lo, hi = _F(lo), _F(hi)
    if lo == hi and x.size:
        lo, hi = x.min(), x.max()
    if lo == hi:
        lo, hi = lo - _F(1), hi + _F(1)
    x = x[(x >= lo) & (x <= hi)]
    pos = ((x - lo) * _F(bins) / (hi - lo)).astype(np.int64)
    pos[pos == bins] = bins - 1
    return np.bincount(pos, minlength=bins).astype(np.float32)


def _floor_div(a, b):
    """float32 ``torch.div(a, b, rounding_mode="floor")`` for ``b > 0`` (c10's ``div_floor_floating``)."""
    mod = np.fmod(a, b)
    div = (a - mod) / b
    div = np.where((mod != 0) & (mod < 0), div - _F(1), div)
    fl = np.floor(div)
    return np.where(div - fl > _F(0.5), fl + _F(1), fl).astype(np.float32)


def _linspace(start, end, steps):
    step = (_F(end) - _F(start)) / _F(steps - 1)
    idx = np.arange(steps)
    half = steps // 2
    lo = _F(start) + step * idx[:half].astype(np.float32)
    hi = _F(end) - step * (steps - idx[half:] - 1).astype(np.float32)
    return np.concatenate([lo, hi]).astype(np.float32)


def _norm(delta_begin, delta_end, density):
    return density * ((delta_end * delta_end * delta_end - delta_begin * delta_begin * delta_begin) / _F(3))


class HistogramObserver(UniformQuantizationObserverBase):
    """Running histogram of the values seen; qparams from the error-minimising sub-range.

    Args:
        bins: number of histogram bins (2048). dtype, qscheme (per tensor), reduce_range, quant_min,
            quant_max, eps: as ``MinMaxObserver``.

    Example::

        >>> import ttorch
        >>> from ttorch.ao.quantization import HistogramObserver
        >>> o = HistogramObserver()
        >>> _ = o(ttorch.linspace(-1.0, 3.0, 101))
        >>> s, z = o.calculate_qparams(); z.tolist()
        [64]
    """

    def __init__(self, bins=2048, dtype=Q.quint8, qscheme=Q.per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=_EPS, is_dynamic=False, **kwargs):
        if not _is_per_tensor(qscheme):
            raise NotImplementedError("HistogramObserver's qscheme only support torch.per_tensor_symmetric "
                                      "                    and torch.per_tensor_affine.")
        if is_dynamic:
            raise NotImplementedError("HistogramObserver doesn't support dynamic quantization")
        super().__init__(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range, quant_min=quant_min,
                         quant_max=quant_max, factory_kwargs=factory_kwargs, eps=eps, is_dynamic=is_dynamic, **kwargs)
        import ttorch
        self.bins = bins
        self.register_buffer("histogram", ttorch.zeros(bins))
        self.register_buffer("min_val", ttorch.tensor(float("inf")))
        self.register_buffer("max_val", ttorch.tensor(float("-inf")))
        self.dst_nbins = 2 ** (8 * dtype.itemsize)
        self.upsample_rate = 16     # the old histogram's bins are split this finely when the range widens

    # ---------------------------------------------------------------- the histogram
    def _upscale_histogram(self, hist, orig_min, orig_max, update_min, update_max):
        up = self.upsample_rate
        hist = np.repeat(hist, up) / _F(up)
        bin_size = (_F(orig_max) - _F(orig_min)) / _F(self.bins * up)
        mids = _linspace(orig_min, orig_max, self.bins * up + 1)[:-1] + _F(0.5) * bin_size
        bounds = _linspace(update_min, update_max, self.bins + 1)
        buckets = np.clip(np.searchsorted(bounds, mids, side="right") - 1, 0, self.bins - 1)
        out = np.zeros(self.bins, np.float32)
        np.add.at(out, buckets, hist.astype(np.float32))       # bincount's sequential float32 sums
        return out

    def _combine_histograms(self, orig_hist, orig_min, orig_max, update_hist, update_min, update_max):
        if update_min == orig_min and update_max == orig_max:
            return orig_hist + update_hist
        if orig_min == orig_max:
            return _histc(np.array([orig_min], np.float32), self.bins, update_min, update_max) * \
                orig_hist.sum(dtype=np.float32) + update_hist
        return update_hist + self._upscale_histogram(orig_hist, orig_min, orig_max, update_min, update_max)

    def forward(self, x_orig):
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().float()._host().reshape(-1).astype(np.float32)
        x_min, x_max = x.min(), x.max()
        if x_min == -np.inf or x_max == np.inf:
            warnings.warn("torch.inf detected in input tensor, ignoring input", stacklevel=2)
            x = x[np.abs(x) != np.inf]
            if x.size == 0:
                return x_orig
            x_min, x_max = x.min(), x.max()
        cur_min, cur_max = _F(float(self.min_val)), _F(float(self.max_val))
        if cur_min == np.inf or cur_max == -np.inf:
            hist, new_min, new_max = _histc(x, self.bins, x_min, x_max), x_min, x_max
        else:
            new_min, new_max = min(cur_min, x_min), max(cur_max, x_max)
            update = _histc(x, self.bins, new_min, new_max)
            hist = self._combine_histograms(self.histogram._host().astype(np.float32), cur_min, cur_max, update,
                                            new_min, new_max)
        self._set(hist, new_min, new_max)
        return x_orig

    def _set(self, hist, mn, mx):
        import ttorch
        dev = self.histogram.device
        self.histogram = ttorch.tensor(np.asarray(hist, np.float32), device=dev)
        self.min_val = ttorch.tensor(float(mn), device=dev)
        self.max_val = ttorch.tensor(float(mx), device=dev)

    # ---------------------------------------------------------------- the search
    def _compute_quantization_error(self, hist, mn, mx, next_start_bin, next_end_bin):
        bin_width = (float(mx) - float(mn)) / self.bins                  # (Python floats, as PyTorch's .item())
        dst_bin_width = bin_width * (next_end_bin - next_start_bin + 1) / self.dst_nbins
        if dst_bin_width == 0.0:
            return 0.0
        w, bw = _F(dst_bin_width), _F(bin_width)
        src_begin = (np.arange(self.bins) - next_start_bin).astype(np.float32) * bw
        src_end = src_begin + bw
        nd = _F(self.dst_nbins - 1)
        begin_bin = np.clip(_floor_div(src_begin, w), _F(0), nd)
        begin_center = (begin_bin + _F(0.5)) * w
        end_bin = np.clip(_floor_div(src_end, w), _F(0), nd)
        density = hist / bw
        norm = np.zeros(self.bins, np.float32)
        norm += _norm(src_begin - begin_center, np.full(self.bins, _F(dst_bin_width / 2)), density)
        norm += (end_bin - begin_bin - _F(1)) * _norm(_F(-dst_bin_width / 2), _F(dst_bin_width / 2), density)
        end_center = end_bin * w + _F(dst_bin_width / 2)
        norm += _norm(_F(-dst_bin_width / 2), src_end - end_center, density)
        return float(norm.sum(dtype=np.float32))

    def _non_linear_param_search(self):
        hist = self.histogram._host().astype(np.float32)
        mn, mx = _F(float(self.min_val)), _F(float(self.max_val))
        bin_width = (mx - mn) / _F(self.bins)
        total = float(hist.sum(dtype=np.float32))
        csum = np.cumsum(hist.astype(np.float64)).astype(np.float32)      # (cumsum accumulates in double)
        stepsize, alpha, beta = 1e-5, 0.0, 1.0
        start_bin, end_bin = 0, self.bins - 1
        norm_min = float("inf")
        while alpha < beta:
            next_alpha, next_beta = alpha + stepsize, beta - stepsize
            lo, hi = _F(next_alpha * total), _F(next_beta * total)      # (a float32 tensor meets a Python float)
            left, right = start_bin, end_bin
            while left < end_bin and csum[left] < lo:
                left += 1
            while right > start_bin and csum[right] > hi:
                right -= 1
            next_start_bin, next_end_bin = start_bin, end_bin
            if (left - start_bin) > (end_bin - right):
                next_start_bin, alpha = left, next_alpha
            else:
                next_end_bin, beta = right, next_beta
            if next_start_bin == start_bin and next_end_bin == end_bin:
                continue
            norm = self._compute_quantization_error(hist, mn, mx, next_start_bin, next_end_bin)
            if norm > norm_min:
                break
            norm_min, start_bin, end_bin = norm, next_start_bin, next_end_bin
        return mn + bin_width * _F(start_bin), mn + bin_width * _F(end_bin + 1)

    def calculate_qparams(self):
        """``(scale, zero_point)`` of the error-minimising range (one-element tensors)."""
        import ttorch
        if float(self.min_val) == float("inf") and float(self.max_val) == float("-inf"):
            warnings.warn("must run observer before calling calculate_qparams.                                    "
                          "Returning default scale and zero point ")
            return ttorch.tensor([1.0]), ttorch.tensor([0])
        if self.bins != len(self.histogram):
            raise AssertionError("The number of bins in histogram should be equal to the number of bins supplied "
                                 "while making this observer")
        new_min, new_max = self._non_linear_param_search()
        dev = self.min_val.device
        return self._calculate_qparams(ttorch.tensor(float(new_min), device=dev),
                                       ttorch.tensor(float(new_max), device=dev))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        for name in ("histogram", "min_val", "max_val"):     # shapes follow the checkpoint
            v = state_dict.get(prefix + name)
            if v is not None:
                setattr(self, name, v.clone())
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


__all__ = ["HistogramObserver"]
