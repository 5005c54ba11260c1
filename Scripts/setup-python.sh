#!/usr/bin/env bash
# Creates the repository's Python environment for reference checking: .venv at the
# repository root with pinned onnx, onnxruntime, numpy and scikit-learn (used by
# Scripts/*.py; scikit-learn for its bundled digits data set, Scripts/train_digits_cnn.py).
#
# Usage: Scripts/setup-python.sh        then run scripts with .venv/bin/python
#
# Idempotent and fast when already set up: if .venv imports the pinned versions,
# nothing is installed. Needs python3 with the venv module (Debian: python3-venv)
# and access to PyPI for the first run.
set -euo pipefail

ONNX_VERSION=1.23.2
ORT_VERSION=1.31.1
NUMPY_VERSION=2.4.6  # pinned too: the generated references are only bit-reproducible with one numpy
SKLEARN_VERSION=1.9.1

root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
python="$venv/bin/python"

# Exits 0 iff the venv already has exactly the pinned packages.
installed() {
    "$python" - "$ONNX_VERSION" "$ORT_VERSION" "$NUMPY_VERSION" "$SKLEARN_VERSION" 2>/dev/null <<'EOF'
import sys
import numpy, onnx, onnxruntime, sklearn
want = sys.argv[1:]
have = [onnx.__version__, onnxruntime.__version__, numpy.__version__, sklearn.__version__]
sys.exit(0 if have == want else 1)
EOF
}

if [ -x "$python" ] && installed; then
    exit 0
fi

if [ ! -x "$python" ]; then
    if ! python3 -m venv "$venv"; then
        echo "setup-python: 'python3 -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

"$python" -m pip install --quiet --disable-pip-version-check \
    "onnx==$ONNX_VERSION" "onnxruntime==$ORT_VERSION" "numpy==$NUMPY_VERSION" "scikit-learn==$SKLEARN_VERSION"

if ! installed; then
    echo "setup-python: $venv still lacks onnx $ONNX_VERSION / onnxruntime $ORT_VERSION / numpy $NUMPY_VERSION / scikit-learn $SKLEARN_VERSION" >&2
    exit 1
fi
echo "setup-python: $venv ready (onnx $ONNX_VERSION, onnxruntime $ORT_VERSION, numpy $NUMPY_VERSION, scikit-learn $SKLEARN_VERSION)"
