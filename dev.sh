#!/usr/bin/env bash
# One entry point for a fresh Linux x86-64 machine with Python 3.10-3.12 and pip:
#   ./dev.sh demo [args]          set up .venv (first run only) and run the main job on the bundled data
#   ./dev.sh test [pytest args]   set up .venv (first run only) and run the whole test suite
#   ./dev.sh lock                 re-resolve requirements.lock from pyproject.toml + constraints.txt
#   ./dev.sh test --latest        build a throwaway venv from the unpinned ranges and run a fast subset
# .venv holds exactly the versions in requirements.lock: it is rebuilt when the lock changes.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
LOCK=requirements.lock
STAMP=$VENV/.moss-installed
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

check_python() {
    "$PYTHON" - <<'EOF' || { echo "moss-plugins needs Python >=3.10,<3.13 (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] < (3, 13) else 1)
EOF
}

# pip, not uv, installs: on machines with a local wheel folder (find-links) pip takes torch from there, and
# --require-hashes accepts any file whose hash the lock lists, wherever it comes from.
install_locked() {
    local lock_sum project_sum have_lock="" have_project=""
    lock_sum=$(sha256sum <"$LOCK" | cut -d' ' -f1)
    project_sum=$(sha256sum <pyproject.toml | cut -d' ' -f1)
    [ -f "$STAMP" ] && read -r have_lock have_project <"$STAMP"
    if [ "$have_lock" != "$lock_sum" ]; then
        # .venv holds exactly the lock and nothing else, so a new lock means a new .venv (pip's cache keeps it quick).
        check_python
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
        echo ">> installing the locked environment ($LOCK) into $VENV (first time: ~3-7 min, ~7.7 GB)"
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        "$VENV/bin/python" -m pip install --quiet --require-hashes -r "$LOCK"
        have_project=""
    fi
    if [ "$have_project" != "$project_sum" ]; then
        "$VENV/bin/python" -m pip install --quiet --no-deps -e .
        "$VENV/bin/python" -c "import torch, torchvision, numba, verl, lmms_eval, moss_plugins" \
            || { echo "the environment does not import; see the pip output above" >&2; exit 1; }
    fi
    echo "$lock_sum $project_sum" >"$STAMP"
}

lock() {
    install_locked
    # One universal lock (every platform marker, Python 3.10-3.12) with hashes; uv resolves in seconds.
    "$VENV/bin/uv" pip compile pyproject.toml --extra all --universal --python-version 3.10 --generate-hashes \
        --constraint constraints.txt --no-header --quiet --output-file "$LOCK"
    echo ">> wrote $LOCK; ./dev.sh test installs it"
}

# The unpinned ranges of pyproject.toml as a user without our lock gets them today, then the tests that touch each
# integration once. Finds an upstream release that breaks us before a user does; not part of CI (not deterministic).
test_latest() {
    check_python
    tmp=$(mktemp -d /tmp/moss-latest.XXXXXX)  # global: the EXIT trap runs after this function has returned
    trap 'rm -rf "$tmp"' EXIT
    echo ">> resolving the newest releases the ranges allow into $tmp/venv"
    "$PYTHON" -m venv "$tmp/venv"
    "$tmp/venv/bin/python" -m pip install --quiet --upgrade pip
    "$tmp/venv/bin/python" -m pip install --quiet -c constraints.txt -e ".[all]"
    echo ">> what differs from $LOCK:"
    # The lock's pins for this interpreter (markers evaluated), read as tests/test_lock.py reads them.
    "$tmp/venv/bin/python" - <<'EOF'
import sys
from importlib import metadata

from packaging.utils import canonicalize_name

sys.path.insert(0, "tests")
from test_lock import locked_here

got = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
diff = [f"  {k}: {v} -> {got[k]}" for k, v in sorted(locked_here().items()) if k in got and got[k] != v]
print("\n".join(diff) or "  nothing")
EOF
    "$tmp/venv/bin/python" -m pytest -p no:cacheprovider tests/reward tests/data/test_schema.py tests/data/test_video.py \
        tests/lmms_eval/test_lmms_e2e.py tests/verl/test_verl_plugin.py tests/test_lock.py "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
    demo) install_locked; exec "$VENV/bin/moss" demo "$@" ;;
    test)
        if [ "${1:-}" = "--latest" ]; then shift; test_latest "$@"; exit; fi
        install_locked; exec "$VENV/bin/python" -m pytest "$@" ;;
    lock) lock ;;
    *) echo "usage: ./dev.sh demo|test|lock [args...]   (./dev.sh test --latest: the unpinned ranges)" >&2; exit 2 ;;
esac
