#!/usr/bin/env bash
# Every GPU figure of docs/bench/receiver_gpu.json in one call on the GPU machine (device tool).
# Needs beside the checkout: .whl/ (diffusers, compressai, pytorch-msssim, importlib_metadata,
# tomli wheels for Python 3.12) and codec_check/ (made here on the CPU:
# scripts/check_codec_devices.py encode --out codec_check). Each step has its own time limit and
# writes its JSON under $OUT as it finishes (7 files: env.txt, log.txt and five JSON reports), so
# a step that fails or overruns costs only itself.
#
#   run: python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
#        && PYTHONPATH=/tmp/site bash scripts/gpu_figures.sh
set -u
OUT=${OUT:-/tmp/gpu_figures}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
step() {  # step NAME SECONDS CMD...: run, log, and record the exit status and wall time
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "=== $name (limit ${limit}s): $*"
  timeout "$limit" "$@" 2>&1 | grep -v -i "warn" >>"$OUT/log.txt"
  local rc=${PIPESTATUS[0]}
  tail -n 8 "$OUT/log.txt"
  echo "STEP $name rc=$rc wall_s=$((SECONDS - t0))" | tee -a "$OUT/log.txt"
}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv | tee "$OUT/env.txt"
python3 -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'cudnn', torch.backends.cudnn.version(), 'numpy', numpy.__version__)" | tee -a "$OUT/env.txt"
step codec 60 python3 scripts/check_codec_devices.py decode --dir codec_check --devices cpu cuda \
  --out "$OUT/codec_devices.json"
step jscc 90 python3 scripts/bench_jscc.py --device cuda --methods deepjscc cdm-jscc-d cdm-jscc-p \
  --repeats 20 --out "$OUT/jscc_gpu.json"
step edge 60 python3 scripts/bench_receiver.py --device cuda --backends edge-diffusion --images 5 \
  --out "$OUT/edge_diffusion_gpu.json"
step eager 120 python3 scripts/bench_receiver.py --device cuda --backends controlnet-arch --images 5 \
  --variants base cn-half dpm8 dpm8-cn-half lcm4 --out "$OUT/controlnet_eager.json"
step compiled 200 python3 scripts/bench_receiver.py --device cuda --backends controlnet-arch --images 5 \
  --variants compile-base compile-dpm8 compile-dpm8-cn-half --compile-mode reduce-overhead \
  --out "$OUT/controlnet_compiled.json"
grep "^STEP" "$OUT/log.txt"
