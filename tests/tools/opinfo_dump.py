"""Record PyTorch's OpInfo samples for ``tests/test_opinfo_golden.py`` (run in an environment WITH PyTorch and
its test extras, e.g. ``pip install torch expecttest hypothesis pyyaml``; ttorch's tests never import torch):

    python tests/tools/opinfo_dump.py tests/data/opinfo_golden.pkl.gz

For each OpInfo whose callable is ``torch.<name>`` (or a Tensor method), up to 3 cpu samples per dtype (float64,
int64, bool, float32) whose tensors hold at most 150 elements: the inputs, PyTorch's output or error, and (float64,
differentiable ops) the gradients of ``sum(output * cos(arange))`` with respect to the inputs that require grad.
"""
import collections
import gzip
import pickle
import sys
import warnings

import torch
from torch.testing._internal.common_methods_invocations import op_db

MAX_SAMPLES, MAX_ELEMENTS = 3, 150
DTYPES = (torch.float64, torch.int64, torch.bool, torch.float32)
# random ops; ops whose results PyTorch leaves unspecified (ties, eigenvector signs and phases); ops whose
# PyTorch gradient is not the op's as computed; private aten ops; decompositions whose last bits differ by design
SKIP = {
    "cauchy", "exponential", "geometric", "log_normal", "normal", "uniform", "bernoulli", "multinomial", "rand_like",
    "randn_like", "randint_like", "randint", "poisson", "randn", "rand", "empty", "empty_like", "empty_strided",
    "new_empty", "new_empty_strided", "empty_permuted", "nn.functional.dropout", "nn.functional.dropout2d",
    "nn.functional.dropout3d", "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout",
    "nn.functional.rrelu", "nn.functional.fractional_max_pool2d", "nn.functional.fractional_max_pool3d",
    "topk", "kthvalue", "mode", "sort", "argsort", "unique", "unique_consecutive", "linalg.eig", "linalg.eigh",
    "linalg.eigvals", "linalg.eigvalsh", "linalg.svd", "svd", "pca_lowrank", "svd_lowrank", "lu", "linalg.lu",
    "linalg.lu_factor", "linalg.lu_factor_ex", "geqrf", "qr", "linalg.qr", "linalg.householder_product", "ormqr",
    "linalg.pinv", "as_strided", "as_strided_copy", "as_strided_scatter", "cholesky_inverse", "cholesky_solve",
    "nn.functional.ctc_loss", "native_layer_norm", "native_batch_norm", "_chunk_cat", "_native_batch_norm_legit",
    "_unsafe_masked_index", "_unsafe_masked_index_put_accumulate", "torch.ops.aten._safe_softmax.default",
    "histogramdd", "sum_to_size", "tensordot", "nn.functional.batch_norm", "nonzero_static", "bincount", "item",
    "special.airy_ai", "special.bessel_j0", "special.bessel_j1", "special.bessel_y0", "special.bessel_y1", "cov",
    "matrix_exp", "special.hermite_polynomial_he", "polygamma", "nn.functional.conv_transpose3d", "_segment_reduce",
}


class Skip(Exception):
    pass


def encode(x, leaves=None):
    """``x`` as plain data (tensors as ("T", ndarray, dtype name, requires_grad)); Skip for what can't be."""
    if isinstance(x, torch.Tensor):
        if x.layout != torch.strided or x.is_quantized:
            raise Skip
        if leaves is not None and x.requires_grad:
            leaves.append(x)
        a = x.detach().resolve_conj().resolve_neg()
        if a.numel() > MAX_ELEMENTS:
            raise Skip
        return ("T", a.numpy().copy(), str(x.dtype).split(".")[1], bool(x.requires_grad))
    for kind, cls in (("D", torch.dtype), ("MF", torch.memory_format), ("LAY", torch.layout)):
        if isinstance(x, cls):
            return (kind, str(x).split(".")[1])
    if isinstance(x, torch.device):
        return ("DEV", str(x))
    if isinstance(x, torch.Size):
        return ("S", tuple(x))
    if isinstance(x, (bool, int, float, complex, str, type(None))):
        return x
    if isinstance(x, slice):
        return ("SL", x.start, x.stop, x.step)
    if x is Ellipsis:
        return ("ELL",)
    if isinstance(x, tuple):
        return ("NT" if hasattr(x, "_fields") else "TU", [encode(v, leaves) for v in x])
    if isinstance(x, list):
        return ("L", [encode(v, leaves) for v in x])
    if isinstance(x, dict):
        return ("DI", {k: encode(v, leaves) for k, v in x.items()})
    raise Skip


def path_of(o):
    try:
        if eval("torch." + o.name, {"torch": torch}) is o.op:
            return o.name
    except Exception:       # noqa: BLE001
        pass
    if o.method_variant is not None and "." not in o.name and hasattr(torch.Tensor, o.name):
        return "Tensor." + o.name
    return None


def flat(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in flat(v)]
    return []


def weighted_sum(outputs):
    loss = None
    for t in outputs:
        if t.requires_grad and (t.is_floating_point() or t.is_complex()):
            w = torch.cos(torch.arange(t.numel(), dtype=torch.float64)).reshape(t.shape).to(t.dtype)
            s = (t * w).sum()
            s = s.real if s.is_complex() else s
            loss = s if loss is None else loss + s
    return loss


def record(o, path, dtype):
    out, count = [], 0
    grad = dtype == torch.float64 and o.supports_autograd
    try:
        samples = list(o.sample_inputs("cpu", dtype, requires_grad=grad))
    except Exception:       # noqa: BLE001
        return out
    for i, s in enumerate(samples):
        if count == MAX_SAMPLES:
            break
        leaves = []
        try:
            r = {"name": o.name, "variant": o.variant_test_name, "path": path, "dtype": str(dtype).split(".")[1],
                 "i": i, "input": encode(s.input, leaves), "args": encode(tuple(s.args), leaves),
                 "kwargs": encode(dict(s.kwargs), leaves)}
            torch.manual_seed(0)
            try:
                result = o.op(s.input, *s.args, **s.kwargs)
            except Exception as e:      # noqa: BLE001
                r["err"] = (type(e).__name__, str(e)[:300])
            else:
                r["out"] = encode(result)
                loss = weighted_sum(flat(result)) if grad and leaves else None
                if loss is not None:
                    gs = torch.autograd.grad(loss, leaves, allow_unused=True)
                    r["grads"] = [None if g is None else g.numpy().copy() for g in gs]
        except Skip:
            continue
        except Exception:   # noqa: BLE001  (a gradient PyTorch itself can't take: not recorded)
            continue
        out.append(r)
        count += 1
    return out


def main(dest):
    warnings.filterwarnings("ignore")
    records = []
    for o in op_db:
        path = path_of(o)
        if path is None or o.name in SKIP:
            continue
        for dtype in DTYPES:
            try:
                if o.supports_dtype(dtype, "cpu"):
                    records += record(o, path, dtype)
            except Exception:   # noqa: BLE001
                pass
    with gzip.open(dest, "wb", compresslevel=9) as f:
        pickle.dump(records, f, protocol=4)
    print(len(records), "samples of", len({(r["name"], r["variant"]) for r in records}), "ops ->", dest,
          collections.Counter(r["dtype"] for r in records))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/opinfo_golden.pkl.gz")
