#!/usr/bin/env bash
# One entry point for a fresh Linux machine with Python 3.10-3.12 and pip:
#   ./dev.sh demo   set up .venv (first run only) and run the main job on the bundled data
#   ./dev.sh test   set up .venv (first run only) and run the whole test suite
# The environment is reinstalled only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.moss-installed

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" - <<'EOF' || { echo "moss-plugins needs Python >=3.10,<3.13 (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 13) else 1)
EOF
    "$PYTHON" -m venv "$VENV"
fi

if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    echo ">> installing moss-plugins with the verl, eval and dev extras into $VENV (first time: ~5 min, ~7 GB)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".[all]"
    "$VENV/bin/python" -c "import torch, torchvision, numba" \
        || { echo "the environment does not import; see the pip output above" >&2; exit 1; }
    touch "$STAMP"
fi

export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
cmd=${1:-}
shift || true
case "$cmd" in
    demo) exec "$VENV/bin/moss" demo "$@" ;;
    test) exec "$VENV/bin/python" -m pytest "$@" ;;
    *) echo "usage: ./dev.sh demo|test [args...]" >&2; exit 2 ;;
esac
