#!/usr/bin/env bash
# The GPU receiver's install, as on a GPU host: a venv WITHOUT system site packages (so no
# GNU Radio, whatever the system has), then `pip install ".[receiver]"` and pytest.
# Usage: bash scripts/setup_receiver.sh [VENV_DIR]   (default .venv-receiver)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-receiver}
PY=${GENSEM_RECEIVER_PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV ($($PY --version 2>&1), no system site packages)"
  $PY -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade "pip>=23" 2>&1 | grep -v "^WARNING: Location" || true
echo "==> pip install \".[receiver]\" + pytest (and scikit-image: the tests' photos)"
$PIP install -q ".[receiver]" "pytest>=7" "pytest-timeout>=2" "hypothesis>=6" "scikit-image>=0.21" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import numpy, torch; print('receiver venv: numpy', numpy.__version__, '| torch', torch.__version__)"
if "$VENV/bin/python" -c "import gnuradio" 2>/dev/null; then
  echo "setup_receiver: $VENV sees GNU Radio; the receiver must install without it" >&2
  exit 1
fi
