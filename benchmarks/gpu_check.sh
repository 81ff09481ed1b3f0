#!/bin/bash
# One device call: the whole suite on the real GPU, the demo, a quick tuning pass (its cache in
# $OUT, so the benchmarks after it use untuned heuristics unless TTORCH_TUNE_CACHE points there too),
# the benchmark harness and the host-cost diagnostics. Usage (repo root, machine with an NVIDIA GPU):
#   OUT=/some/dir bash benchmarks/gpu_check.sh [pytest args]
export PYTHONPATH=. TRITON_INTERPRET=0 PYTHONUNBUFFERED=1 TRITON_DEFAULT_FP_FUSION=1
OUT=${OUT:-/tmp/gpu_out}; mkdir -p "$OUT"
nvidia-smi -L; python3 -c "import triton, numpy; print('triton', triton.__version__, 'numpy', numpy.__version__)"
python3 -c "import ttorch; print(ttorch.cuda.get_device_name(0), ttorch.ones(3, device='cuda') + 1)" 2>&1 | tail -5
timeout ${SUITE_S:-300} python3 -m pytest -q -n 16 -p no:cacheprovider --timeout 120 -rf --tb=line \
    --junitxml="$OUT/junit.xml" "${@:-tests}" > "$OUT/suite.log" 2>&1
echo "suite rc=$?"; grep -E "passed|failed" "$OUT/suite.log" | tail -3
grep -E "^(FAILED|ERROR)" "$OUT/suite.log" | cut -c1-220 | sort | head -80
timeout 60 python3 examples/demo.py 2>&1 | tail -5
TTORCH_TUNE_CACHE="$OUT/tune.json" timeout ${TUNE_S:-120} python3 -m ttorch.tune --quick > "$OUT/tune.log" 2>&1
echo "tune rc=$?"; tail -12 "$OUT/tune.log"
timeout ${BENCH_S:-240} python3 -m benchmarks --device cuda ${BENCH_ARGS:---quick} --out "$OUT/bench" \
    > "$OUT/bench.log" 2>&1; tail -70 "$OUT/bench.log"
timeout 60 python3 benchmarks/gpu_quick.py --json "$OUT/gpu_quick.json" 2>&1 | tail -12
