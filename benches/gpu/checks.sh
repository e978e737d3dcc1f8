#!/usr/bin/env bash
# Correctness and fault checks on the GPU machine (complements run_all.sh, which measures speed).
#
#   bash benches/gpu/checks.sh --out DIR [--fp16 /tmp/sd15-fp16] [--fp32 /tmp/sd15-fp32] [--only LIST]
#
# Parts (each bounded; results and logs under DIR):
#   cuda-tests    the release test binaries on CUDA: runtime_reference (each graph vs torch, ≤1e-5, plain and
#                 IoBinding), pipeline_goldens (txt2img/img2img/inpaint latents vs diffusers ≤1e-3), with and
#                 without CUDA graphs; model_folder (provider start/fallback)
#   trt           --provider tensorrt without fallback must fail clearly (no libnvinfer here); with
#                 --provider-fallback it must fall back to CUDA and become ready
#   rng           scripts/gpu/rng_cuda_goldens.py: torch.randn on CUDA for the rng module's goldens
#   smoke         onnx/gpu_smoke.py on the exported folders (CUDA vs CPU for fp32; fp16 vs fp32)
#   multi-gpu     serve --device-id 0,1 (or all) on the fp16 folder, 16 HTTP clients: both devices busy,
#                 images/s (compare with run_all.sh's single-GPU HTTP numbers)
#   oom           a request too big for the GPU: a clear error, then a normal request succeeds
set -uo pipefail
cd "$(dirname "$0")/../.."
OUTDIR=bench-out; FP16=/tmp/sd15-fp16; FP32=/tmp/sd15-fp32; ONLY=""
while (($#)); do
  case $1 in
    --out) OUTDIR=$2; shift 2 ;; --fp16) FP16=$2; shift 2 ;; --fp32) FP32=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;; *) echo "checks.sh: unknown argument $1"; exit 2 ;;
  esac
done
mkdir -p "$OUTDIR/logs"; OUTDIR=$(cd "$OUTDIR" && pwd)
source /tmp/sdgate-env 2>/dev/null || true
export SDGATE_REPO=$PWD
wanted() { [[ -z $ONLY || ",$ONLY," == *",$1,"* ]]; }
declare -a STATUS=()
part() {  # part NAME LIMIT COMMAND...
  local name=$1 limit=$2; shift 2
  echo "== $name"
  local t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" >"$OUTDIR/logs/$name.log" 2>&1
  local rc=$? dt=$(($(date +%s) - t0))
  STATUS+=("$name: $([[ $rc == 0 ]] && echo ok || echo "FAILED ($rc)") in ${dt}s")
  tail -n 6 "$OUTDIR/logs/$name.log" | sed 's/^/   | /'
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {  # wait_ready PORT SECONDS
  for _ in $(seq 1 $(($2 * 5))); do
    curl -sf "http://127.0.0.1:$1/ready" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

if wanted cuda-tests; then
  part cuda-tests 300 bash -c '
    set -x
    SDGATE_TEST_PROVIDER=cuda /tmp/sdgate-bin/runtime_reference --nocapture --test-threads 1 || exit 1
    SDGATE_TEST_PROVIDER=cuda /tmp/sdgate-bin/pipeline_goldens --nocapture || exit 1
    SDGATE_TEST_PROVIDER=cuda SDGATE_TEST_CUDA_GRAPH=1 /tmp/sdgate-bin/pipeline_goldens --nocapture || exit 1
    /tmp/sdgate-bin/model_folder --nocapture || exit 1'
fi
if wanted trt; then
  part trt 240 bash -c '
    d=$(mktemp -d); p='"$(free_port)"'
    if timeout 120 sdgate serve --provider tensorrt --port $p --data-dir $d > $d/no-fallback.log 2>&1; then
      echo "tensorrt without fallback started?"; exit 1; fi
    grep -i "tensorrt" $d/no-fallback.log | tail -3
    sdgate serve --provider tensorrt --provider-fallback --port $p --data-dir $d > $d/fallback.log 2>&1 & pid=$!
    for i in $(seq 1 600); do curl -sf http://127.0.0.1:$p/ready > $d/ready.json && break; sleep 0.2; done
    kill $pid; wait $pid
    grep -i "falling back" $d/fallback.log | head -2; cat $d/ready.json; echo
    grep -q "\"provider\":\"cuda\"" $d/ready.json'
fi
if wanted rng; then
  part rng 180 bash -c "python3 scripts/gpu/rng_cuda_goldens.py '$OUTDIR/cuda_randn.json' && ls -la '$OUTDIR/cuda_randn.json'"
fi
if wanted smoke; then
  [[ -f $FP32/model.json ]] && part smoke-fp32 200 env PYTHONPATH=/tmp/ortpy-site:${PYTHONPATH:-} python3 onnx/gpu_smoke.py "$FP32" --no-cpu
  [[ -f $FP16/model.json && -f $FP32/model.json ]] && part smoke-fp16 200 env PYTHONPATH=/tmp/ortpy-site:${PYTHONPATH:-} \
    python3 onnx/gpu_smoke.py "$FP16" --reference "$FP32"
fi
if wanted multi-gpu && [[ -f $FP16/model.json ]]; then
  n=$(nvidia-smi -L | wc -l)
  if ((n < 2)); then STATUS+=("multi-gpu: not run (1 GPU)"); else
    part multi-gpu 300 bash -c '
      d=$(mktemp -d); p='"$(free_port)"'
      RUST_LOG=warn sdgate serve --provider cuda --device-id all --max-batch 8 --model-dir '"$FP16"' --port $p --data-dir $d > $d/serve.log 2>&1 & pid=$!
      for i in $(seq 1 1500); do curl -sf http://127.0.0.1:$p/ready >/dev/null && break; sleep 0.2; done
      curl -s http://127.0.0.1:$p/ready; echo
      python3 benches/gpu/http_load.py --port $p --clients 4 --seconds 5 >/dev/null   # warm the shapes
      python3 benches/gpu/http_load.py --port $p --clients 16 --seconds 30 | tee '"$OUTDIR"'/multi-gpu.json
      nvidia-smi --query-gpu=index,memory.used --format=csv
      kill $pid; wait $pid; tail -3 $d/serve.log'
  fi
fi
if wanted oom && [[ -f $FP16/model.json ]]; then
  part oom 300 bash -c '
    d=$(mktemp -d); p='"$(free_port)"'
    RUST_LOG=warn sdgate serve --provider cuda --device-id 0 --model-dir '"$FP16"' --port $p --data-dir $d --max-image-side 4096 --max-image-pixels 16777216 > $d/serve.log 2>&1 & pid=$!
    for i in $(seq 1 1500); do curl -sf http://127.0.0.1:$p/ready >/dev/null && break; sleep 0.2; done
    big=$(curl -s -o $d/big.json -w "%{http_code}" -H "content-type: application/json" http://127.0.0.1:$p/sdapi/v1/txt2img \
      -d "{\"prompt\":\"x\",\"steps\":2,\"width\":4096,\"height\":4096,\"batch_size\":16}")
    echo "huge request: HTTP $big"; head -c 400 $d/big.json; echo
    ok=$(curl -s -o $d/ok.json -w "%{http_code}" -H "content-type: application/json" http://127.0.0.1:$p/sdapi/v1/txt2img \
      -d "{\"prompt\":\"a cat\",\"steps\":4,\"width\":512,\"height\":512}")
    echo "normal request after it: HTTP $ok"
    kill $pid; wait $pid; grep -i "error\|out of memory" $d/serve.log | head -3
    [[ $big != 200 && $big != 000 && $ok == 200 ]]'
fi
echo; echo "== checks"; printf '%s\n' "${STATUS[@]}"
