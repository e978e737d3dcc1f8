#!/usr/bin/env bash
# All GPU measurements in one command (fits the GPU machine's 10-minute command limit with the defaults).
#
#   bash benches/gpu/run_all.sh --fp16 /tmp/sd15-fp16 --fp32 /tmp/sd15-fp32 --sdgate .gpu/bin/sdgate [--out DIR]
#                               [--device-id N] [--only LIST] [--skip LIST] [--quick] [--budget SECS]
#
# Parts (each skippable, each under its own time limit, and all under --budget, default 570 s):
#   sdgate-fp16   sdgate bench, CUDA, the fp16 fused folder: UNet by batch, e2e, HTTP 1/4/16 clients  (≤ 220 s)
#   sdgate-fp32   sdgate bench, CUDA, the fp32 plain folder: UNet by batch, e2e                        (≤ 90 s)
#   torch         baseline_torch.py: diffusers + torch fp16 eager (SDPA), UNet by batch, pipeline     (≤ 110 s)
#   ortpy         baseline_ort_python.py on the fp16 folder: IoBinding UNet by batch (+ NumPy in/out),
#                 and the txt2img loop from Python (ortloop.py)                                       (≤ 80 s)
#   ortpy-graph   the same UNet with enable_cuda_graph (one session per batch size; rows 2,8,16)      (≤ 55 s)
#   torch-compile baseline_torch.py --compile for batch 2 only; NOT in the default set (about 2-4 min:
#                 run it alone: --only torch-compile)
# Results: $OUT/*.json (schema sdgate-bench/1), $OUT/*.md, $OUT/REPORT-all.md, logs in $OUT/logs/.
# It prints a status line per part and a short table at the end.
#
# Set-up it does when it finds the pieces (see benches/README.md, "On the GPU machine"):
#   - `source /tmp/ort-gpu/env` (ONNX Runtime CUDA libraries for Rust, from ../shared/gpu/prepare's parts)
#   - diffusers: a wheel in .whl/ (or $DIFFUSERS_WHEEL) installed with pip --no-index --no-deps --target /tmp/site
#   - ONNX Runtime for Python with CUDA: .gpu/ortpy/ort-python-gpu.tar.gz (benches/gpu/stage_ort_python.sh)
#     unpacked into /tmp/ortpy-site, its CUDA provider library linked from /tmp/ort-gpu
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo"
PY=${PY:-python3}
FP16=${FP16_DIR:-}
FP32=${FP32_DIR:-}
SDGATE=${SDGATE_BIN:-}
OUTDIR=${OUT:-bench-out}
DEV=0
ONLY=""
SKIP=""
QUICK=0
BUDGET=570
TFLOP_ROW=0.8035   # SD 1.5 UNet at 64×64 latents, per row (1.607 TFLOP per batch-2 step)

while (($#)); do
  case $1 in
    --fp16) FP16=$2; shift 2 ;;
    --fp32) FP32=$2; shift 2 ;;
    --sdgate) SDGATE=$2; shift 2 ;;
    --out) OUTDIR=$2; shift 2 ;;
    --device-id) DEV=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --skip) SKIP=$2; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --budget) BUDGET=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument $1 (--help)"; exit 2 ;;
  esac
done

mkdir -p "$OUTDIR/logs"
OUTDIR=$(cd "$OUTDIR" && pwd)
START=$(date +%s)
declare -a STATUS=()

wanted() {  # wanted PART DEFAULT(1|0)
  local p=$1 def=$2
  if [[ -n $ONLY ]]; then [[ ",$ONLY," == *",$p,"* ]]; return; fi
  [[ ",$SKIP," == *",$p,"* ]] && return 1
  ((def == 1))
}

# run_part NAME LIMIT_SECONDS COMMAND...: logs to $OUTDIR/logs/NAME.log, bounded by the part's limit and by
# what is left of the budget (minus 25 s for the final table).
run_part() {
  local name=$1 limit=$2; shift 2
  local left=$((BUDGET - ($(date +%s) - START) - 25))
  if ((left < 20)); then STATUS+=("$name: not run (budget spent)"); echo "== $name: not run, budget spent"; return; fi
  ((limit > left)) && limit=$left
  echo "== $name (limit ${limit} s): $*"
  local t0=$(date +%s)
  timeout --signal=TERM --kill-after=10 "$limit" "$@" >"$OUTDIR/logs/$name.log" 2>&1
  local rc=$? dt=$(($(date +%s) - t0))
  local what="ok"
  ((rc == 124 || rc == 137)) && what="TIMED OUT"
  ((rc != 0 && rc != 124 && rc != 137)) && what="FAILED (exit $rc)"
  grep -h "^SKIPPED" "$OUTDIR/logs/$name.log" >/dev/null && what="skipped ($(grep -h '^SKIPPED' "$OUTDIR/logs/$name.log" | head -1 | cut -c1-160))"
  STATUS+=("$name: $what in ${dt} s")
  echo "   $what in ${dt} s (log: logs/$name.log)"
  if [[ $what != ok ]]; then tail -n 8 "$OUTDIR/logs/$name.log" | sed 's/^/   | /'; fi
}

# ---- set-up -------------------------------------------------------------------------------------------
[[ -f /tmp/ort-gpu/env ]] && source /tmp/ort-gpu/env
if [[ -z ${SDGATE_GIT_COMMIT:-} ]] && git -C "$repo" rev-parse HEAD >/dev/null 2>&1; then
  export SDGATE_GIT_COMMIT=$(git -C "$repo" rev-parse HEAD)
fi
{ if command -v nvidia-smi >/dev/null; then nvidia-smi -L; \
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv; else echo "no nvidia-smi"; fi; \
  $PY -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)'; \
  echo "ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-}"; } >"$OUTDIR/logs/machine.log" 2>&1
head -3 "$OUTDIR/logs/machine.log"

if ! $PY -c 'import diffusers' >/dev/null 2>&1; then
  if [[ ! -d /tmp/site/diffusers ]]; then
    whl=${DIFFUSERS_WHEEL:-$(ls .whl/diffusers-*.whl 2>/dev/null | head -1)}
    if [[ -n $whl && -f $whl ]]; then
      $PY -m pip install -q --no-index --no-deps --target /tmp/site "$whl" >"$OUTDIR/logs/diffusers-install.log" 2>&1 \
        || echo "diffusers: pip install of $whl failed (logs/diffusers-install.log)"
    else
      echo "diffusers: not installed and no wheel in .whl/ (torch baseline will fail)"
    fi
  fi
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi

ORTPY_PATH=""
if [[ ! -d /tmp/ortpy-site/onnxruntime && -f .gpu/ortpy/ort-python-gpu.tar.gz ]]; then
  mkdir -p /tmp/ortpy-site && tar -xzf .gpu/ortpy/ort-python-gpu.tar.gz -C /tmp/ortpy-site
fi
if [[ -d /tmp/ortpy-site/onnxruntime ]]; then
  if [[ -f /tmp/ort-gpu/libonnxruntime_providers_cuda.so ]]; then
    ln -sf /tmp/ort-gpu/libonnxruntime_providers_cuda.so /tmp/ortpy-site/onnxruntime/capi/libonnxruntime_providers_cuda.so
  fi
  ORTPY_PATH=/tmp/ortpy-site
fi

# ---- settings -----------------------------------------------------------------------------------------
if ((QUICK)); then
  U_ITERS=5; E_RUNS=3; H_SECS=5; T_ITERS=5; T_RUNS=3
else
  U_ITERS=20; E_RUNS=10; H_SECS=15; T_ITERS=20; T_RUNS=10
fi

need_dir() { [[ -n $2 && -f $2/model.json ]] || { STATUS+=("$1: not run (no model folder: ${2:-unset})"); echo "== $1: no model folder (${2:-unset})"; return 1; }; }
need_bin() { [[ -n $SDGATE && -x $SDGATE ]] || { STATUS+=("$1: not run (no sdgate binary: ${SDGATE:-unset})"); echo "== $1: no sdgate binary"; return 1; }; }

# ---- parts --------------------------------------------------------------------------------------------
if wanted sdgate-fp16 1 && need_dir sdgate-fp16 "$FP16" && need_bin sdgate-fp16; then
  run_part sdgate-fp16 220 env RUST_LOG=warn "$SDGATE" bench --provider cuda --device-id "$DEV" --model-dir "$FP16" \
    --unet-tflop-per-row $TFLOP_ROW --unet-iters $U_ITERS --e2e-runs $E_RUNS --http-clients 1,4,16 \
    --http-secs $H_SECS --http-warmup 2 --max-batch 8 --budget-secs 30 --out "$OUTDIR" --tag cuda-fp16
fi
if wanted sdgate-fp16-nograph 1 && need_dir sdgate-fp16-nograph "$FP16" && need_bin sdgate-fp16-nograph; then
  # The same UNet through IoBinding without CUDA graphs, and with neither (plain Session::run).
  run_part sdgate-fp16-nograph 60 env RUST_LOG=warn "$SDGATE" bench --provider cuda --device-id "$DEV" --model-dir "$FP16" \
    --parts unet --cuda-graphs 0 --unet-tflop-per-row $TFLOP_ROW --unet-iters $U_ITERS --budget-secs 10 \
    --out "$OUTDIR" --tag cuda-fp16-iobinding-nograph
  run_part sdgate-fp16-plain 60 env RUST_LOG=warn "$SDGATE" bench --provider cuda --device-id "$DEV" --model-dir "$FP16" \
    --parts unet --io-binding false --unet-tflop-per-row $TFLOP_ROW --unet-iters $U_ITERS --budget-secs 10 \
    --out "$OUTDIR" --tag cuda-fp16-plain-run
fi
if wanted sdgate-fp32 1 && need_dir sdgate-fp32 "$FP32" && need_bin sdgate-fp32; then
  run_part sdgate-fp32 90 env RUST_LOG=warn "$SDGATE" bench --provider cuda --device-id "$DEV" --model-dir "$FP32" \
    --parts unet,e2e --unet-tflop-per-row $TFLOP_ROW --unet-iters $((U_ITERS / 2 > 0 ? U_ITERS / 2 : 1)) \
    --e2e-runs $((E_RUNS / 2 > 0 ? E_RUNS / 2 : 1)) --max-batch 8 --budget-secs 15 --out "$OUTDIR" --tag cuda-fp32
fi
if wanted torch 1; then
  run_part torch 110 $PY benches/gpu/baseline_torch.py --device "cuda:$DEV" --dtype fp16 --iters $T_ITERS \
    --runs $T_RUNS --unet-tflop-per-row $TFLOP_ROW --budget-secs 20 --out "$OUTDIR" --tag cuda-fp16
fi
if wanted ortpy 1 && need_dir ortpy "$FP16"; then
  run_part ortpy 80 env PYTHONPATH="$ORTPY_PATH${PYTHONPATH:+:$PYTHONPATH}" $PY benches/gpu/baseline_ort_python.py \
    "$FP16" --provider cuda --device-id "$DEV" --iters $T_ITERS --unet-tflop-per-row $TFLOP_ROW --budget-secs 15 \
    --e2e --runs $T_RUNS --out "$OUTDIR"
fi
if wanted ortpy-graph 1 && need_dir ortpy-graph "$FP16"; then
  run_part ortpy-graph 55 env PYTHONPATH="$ORTPY_PATH${PYTHONPATH:+:$PYTHONPATH}" $PY benches/gpu/baseline_ort_python.py \
    "$FP16" --provider cuda --device-id "$DEV" --cuda-graph --rows 2,8,16 --iters $T_ITERS \
    --unet-tflop-per-row $TFLOP_ROW --budget-secs 10 --out "$OUTDIR"
fi
if wanted torch-compile 0; then
  run_part torch-compile 400 $PY benches/gpu/baseline_torch.py --device "cuda:$DEV" --dtype fp16 --parts unet \
    --rows 2 --compile --compile-rows 2 --iters $T_ITERS --unet-tflop-per-row $TFLOP_ROW --out "$OUTDIR" \
    --tag cuda-fp16-compile
fi

# ---- summary ------------------------------------------------------------------------------------------
echo
echo "== parts"
for s in "${STATUS[@]}"; do echo "   $s"; done
echo
echo "== results (ms are medians; $OUTDIR/REPORT-all.md has the tables)"
$PY benches/gpu/report.py "$OUTDIR" --md "$OUTDIR/REPORT-all.md" || echo "(no results)"
echo "total $(($(date +%s) - START)) s"
