#!/usr/bin/env bash
# The GPU check: run it first whenever a GPU is lent, and quote its table. Within about 8 minutes
# on one GPU: the Triton scan's tests compiled on the device (against the chunked PyTorch scan and
# the float64 reference), the scan benchmark against its memory floor, one training step of every
# paper model at the paper's sizes with peak memory, and prediction genes/s at 200 kb.
#
#     bash benchmarks/gpu_check.sh            # needs torch with CUDA and the pinned packages
#
# Each part has its own time limit; a part that fails or times out is reported as such in the table
# and the others still run. Full outputs: $GPU_CHECK_OUT (default: gpu_check/), one log per part.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4294967296}"
PY="${PYTHON:-python3}"
OUT="${GPU_CHECK_OUT:-gpu_check}"
mkdir -p "$OUT"

if ! "$PY" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
    echo "gpu_check: no CUDA device visible to torch ($("$PY" -c 'import torch; print(torch.__version__)' 2>&1)); nothing to measure" >&2
    exit 2
fi
"$PY" -c 'import torch; p = torch.cuda.get_device_properties(0); print(f"device: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}")' | tee "$OUT/device.txt"

declare -a ROWS
part() {  # part NAME SECONDS COMMAND...: run, log, keep the lines that the summary greps
    local name="$1" limit="$2"; shift 2
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    local status="ok"
    [ $rc -eq 124 ] && status="timed out after ${limit} s"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && status="failed (exit $rc)"
    ROWS+=("| $name | $status | $((SECONDS - start)) s | $(summary "$name") |")
}
summary() {  # the figures each part prints, on one line
    case "$1" in
        triton_tests) grep -E "passed|failed" "$OUT/$1.log" | tail -1 ;;
        scan_bench) grep -iE "floor|tokens/s|ms" "$OUT/$1.log" | tail -4 | tr '\n' ';' ;;
        sass) tail -1 "$OUT/$1.log" ;;
        training_step) echo "per model below" ;;
        predict) grep -iE "genes/s" "$OUT/$1.log" | tail -2 | tr '\n' ';' ;;
    esac
}

part triton_tests 90 "$PY" -m pytest tests/test_scan_triton.py -q -p no:cacheprovider
part sass 40 "$PY" benchmarks/bench_triton_sass.py
part scan_bench 120 "$PY" benchmarks/bench_triton_scan.py --repeats 1 --impls triton,torch
part training_step 120 "$PY" benchmarks/bench_training.py --paper --steps 2
part predict 60 "$PY" benchmarks/bench_predict.py --genes 4 --block-size 0 --paths new

echo
echo "| part | status | wall | figures |"
echo "|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo
echo "One paper-size training step per model:"
sed -n '/^model /,$p' "$OUT/training_step.log"
