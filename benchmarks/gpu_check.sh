#!/bin/bash
# One device call: the whole suite on the real GPU, compute-sanitizer's memcheck over a small pass of
# the kernels (benchmarks/sanitize.py), a tuning pass (benchmarks/tune_targets.py), the benchmark
# harness with the tuned cache (its targets first: training steps, SDPA and host cost; then profiles
# of the three training steps; then the kernel sweeps) and the host-cost diagnostics and A/B timings
# (benchmarks/gpu_quick.py). Every stage has its own time limit (SIGINT: pytest and the harness stop
# and still report what they finished), so the whole call ends inside the device tool's limit.
# Usage (repo root, machine with an NVIDIA GPU):
#   OUT=dir [TOTAL_S=585 SMOKE_S=90 SUITE_S=240 SAN_S=35 TUNE_S=120 E2E_S=70 PROF_S=25 QUICK_S=120 OPS_S=...] \
#       [STAGES="smoke suite sanitize tune e2e profile quick ops"] [TUNE_FROM=tune.json] [E2E_ONLY=e2e,host,sdpa] \
#       [PROF_MODEL=all] [QUICK_ARMS=head_,dq_,...] bash benchmarks/gpu_check.sh [pytest args, default: tests]
# QUICK_ARMS: only gpu_quick's A/B checks with arms so named (its --arms), not its host diagnostics.
# With 15 minutes of device time a task (machine start included), one call is what there is: e.g.
#   OUT=$OUT TOTAL_S=560 STAGES="smoke suite e2e quick" SUITE_S=200 QUICK_S=200 \
#       QUICK_ARMS=head_,dq_,scaled_,fp32x3_,mha_,gqa_,drop_,atomic_ bash benchmarks/gpu_check.sh
# The kernel sweeps (last) get what is left of TOTAL_S, inside the device tool's 600 s per command. On
# an H100 (eighth session) the whole call took 439 s: the suite 183 s with -n 16, the e2e stage 49 s,
# gpu_quick under 40 (since then three bf16 A/B products, the fp16 attention TMA arms and the
# pipelined-loop arms: 120 s allowed); the tuning stage ran out at 85 s (now 120).
# On an H200 (seventeenth session, TOTAL_S=550) 512 s: the suite reached 99% at its 200 s (now 240).
# $OUT receives 8 files (the device tool returns at most 8): suite.log, tune.log, bench_e2e.log,
# profile.log (one GPT-2, CNN and MLP step each under ttorch.profiler and torch.profiler),
# gpu_quick.log, bench_ops.log, bench_first.tgz (the smoke, sanitize and suite's junit logs, the tune
# cache, the e2e tables and JSON, gpu_quick.json) and bench.tgz (all of it, the sweeps' tables and
# plots too); with TRITON_SRC=1 also triton_src.tgz (the installed Triton's launcher sources, for work
# on the launch path), one more than the tool returns: set it only with fewer stages.
export PYTHONPATH=. TRITON_INTERPRET=0 PYTHONUNBUFFERED=1 TRITON_DEFAULT_FP_FUSION=1
DEADLINE=$((SECONDS + ${TOTAL_S:-585}))   # the last stage (kernel sweeps) gets what is left of this
OUT=${OUT:-/tmp/gpu_out}; W=$(mktemp -d); mkdir -p "$OUT"
TC="$W/tune.json"     # the tuning pass and the harness share it; the suite does not see it
[ -z "$TUNE_FROM" ] || cp "$TUNE_FROM" "$TC"   # an earlier call's tuned cache (bench.tgz's tune.json)
STAGES=" ${STAGES:-smoke suite sanitize tune e2e profile quick ops} "
on() { [[ "$STAGES" == *" $1 "* ]]; }
nvidia-smi -L; python3 -c "import triton, numpy; print('triton', triton.__version__, 'numpy', numpy.__version__)"
python3 -c "import ttorch; print(ttorch.cuda.get_device_name(0), ttorch.ones(3, device='cuda') + 1)" 2>&1 | tail -5
TDIR=$(python3 -c "import triton, os; print(os.path.dirname(triton.__file__))")
[ -z "$TRITON_SRC" ] || (cd "$TDIR/.." && tar czf "$OUT/triton_src.tgz" triton/runtime triton/compiler triton/backends/nvidia/driver.py \
    triton/backends/driver.py 2>/dev/null)
# smoke: sanitize.py's pass checked against the cpu device (compiles its kernels for the stages after it);
# where it fails, the launch fast path's direct C launch off, then the fast path off, for every later stage
# (a smoke stopped at its limit, rc 124, is no verdict on the launch path)
FLAG=""; on smoke && for FLAG in "" TTORCH_DIRECT_LAUNCH=0 TTORCH_FAST_LAUNCH=0; do
    env $FLAG timeout -k 5 ${SMOKE_S:-90} python3 benchmarks/sanitize.py > "$W/smoke.log" 2>&1; rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 124 ] && break
    echo "smoke failed (rc $rc) with ${FLAG:-the defaults}:"; tail -4 "$W/smoke.log"
done
[ -z "$FLAG" ] || export "$FLAG"; echo "smoke: stages run with ${FLAG:-the defaults}"
if on suite; then
    timeout -s INT -k 20 ${SUITE_S:-240} python3 -m pytest -q -n 16 -p no:cacheprovider --timeout 120 -rfE \
        --tb=line --durations=15 --junitxml="$W/junit.xml" "${@:-tests}" > "$OUT/suite.log" 2>&1
    echo "suite rc=$?"; grep -E "passed|failed" "$OUT/suite.log" | tail -3
    grep -E "^(FAILED|ERROR)" "$OUT/suite.log" | cut -c1-200 | sort | head -60
fi
# compute-sanitizer's memcheck over a small pass of the kernels (benchmarks/sanitize.py; its log goes in bench.tgz)
if on sanitize; then
    timeout -k 5 ${SAN_S:-35} compute-sanitizer --tool memcheck --error-exitcode 9 python3 benchmarks/sanitize.py \
        > "$W/sanitize.log" 2>&1
    echo "sanitize rc=$? (9: a bad access)"; grep -E "^(ok|DIFF)|ERROR SUMMARY|Invalid" "$W/sanitize.log" | head -20
fi
if on tune; then
    TTORCH_TUNE_CACHE="$TC" timeout -s INT -k 10 ${TUNE_S:-120} python3 benchmarks/tune_targets.py > "$OUT/tune.log" 2>&1
    echo "tune rc=$?"; grep -E "bucket|TFLOP" "$OUT/tune.log" | tail -20
fi
if on e2e; then
    TTORCH_TUNE_CACHE="$TC" timeout -s INT -k 20 ${E2E_S:-70} python3 -m benchmarks --device cuda \
        --only "${E2E_ONLY:-e2e,host,sdpa}" --out "$W/e2e" > "$OUT/bench_e2e.log" 2>&1; grep -E "^\|" "$OUT/bench_e2e.log"
fi
if on profile; then
    TTORCH_TUNE_CACHE="$TC" timeout -k 5 ${PROF_S:-25} python3 benchmarks/profile_step.py --model "${PROF_MODEL:-all}" \
        --rows 30 > "$OUT/profile.log" 2>&1
    echo "profile rc=$?"; grep -E "^## |Self CUDA time total" "$OUT/profile.log"
fi
if on quick; then
    TTORCH_TUNE_CACHE="$TC" timeout ${QUICK_S:-120} python3 benchmarks/gpu_quick.py --json "$W/gpu_quick.json" \
        ${QUICK_ARMS:+--arms "$QUICK_ARMS"} > "$OUT/gpu_quick.log" 2>&1; tail -22 "$OUT/gpu_quick.log"
fi
(cd "$W" && tar czf "$OUT/bench_first.tgz" .)   # what came so far, should the last stage run out of time
LEFT=$((DEADLINE - SECONDS)); OPS_S=${OPS_S:-$((LEFT < 20 ? 1 : LEFT - 15))}
if on ops; then
    TTORCH_TUNE_CACHE="$TC" timeout -s INT -k 10 $OPS_S python3 -m benchmarks --device cuda --skip e2e,host,sdpa \
        --out "$W/ops" > "$OUT/bench_ops.log" 2>&1; grep -E "^\|" "$OUT/bench_ops.log"
fi
(cd "$W" && tar czf "$OUT/bench.tgz" .)
