"""Published peak numbers of the GPUs we report against: HBM bandwidth and dense tensor-core rates.

Dense (no sparsity) numbers from the vendors' datasheets, SXM parts unless the name says PCIe.
Matched by a substring of the device name, most specific first; an unknown card gets no
percentage column rather than a guess.
"""

# name substring: (bytes/s, {compute kind: FLOP/s})
PEAKS = [
    ("H200", (4.8e12, {"float32": 67e12, "tf32": 494.7e12, "float16": 989.4e12, "bfloat16": 989.4e12})),
    ("H100 PCIe", (2.0e12, {"float32": 51e12, "tf32": 378e12, "float16": 756e12, "bfloat16": 756e12})),
    ("H100 NVL", (3.9e12, {"float32": 60e12, "tf32": 417.5e12, "float16": 835e12, "bfloat16": 835e12})),
    ("H100", (3.35e12, {"float32": 67e12, "tf32": 494.7e12, "float16": 989.4e12, "bfloat16": 989.4e12})),
    ("A100-SXM4-40GB", (1.555e12, {"float32": 19.5e12, "tf32": 156e12, "float16": 312e12, "bfloat16": 312e12})),
    ("A100-PCIE-40GB", (1.555e12, {"float32": 19.5e12, "tf32": 156e12, "float16": 312e12, "bfloat16": 312e12})),
    ("A100", (2.039e12, {"float32": 19.5e12, "tf32": 156e12, "float16": 312e12, "bfloat16": 312e12})),
    ("L40S", (0.864e12, {"float32": 91.6e12, "tf32": 183e12, "float16": 362e12, "bfloat16": 362e12})),
]


def peak(device_name):
    """``(bytes_per_s, {kind: flops})`` of a known GPU, or None."""
    for key, value in PEAKS:
        if key.lower() in (device_name or "").lower():
            return value
    return None


def percent(device_name, *, gbps=None, tflops=None, kind="float32"):
    """Achieved throughput as a percentage of the card's peak (None when unknown)."""
    p = peak(device_name)
    if p is None:
        return None
    if gbps is not None:
        return 100.0 * gbps * 1e9 / p[0]
    if tflops is not None and kind in p[1]:
        return 100.0 * tflops * 1e12 / p[1][kind]
    return None
