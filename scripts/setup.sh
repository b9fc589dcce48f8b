# Sourced by the other scripts: creates the virtual environment and installs the project into it
# when pyproject.toml changed since the last install, then exports the runtime environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            PYTHON="$candidate"
            break
        fi
    done
fi
[ -n "$PYTHON" ] || { echo "jobrec needs Python >= 3.11" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $PYTHON" >&2
    "$PYTHON" -m venv .venv
fi
STAMP=.venv/.jobrec-installed
if [ ! -f "$STAMP" ] || ! cmp -s pyproject.toml "$STAMP"; then
    echo "installing jobrec and its pinned dependencies into .venv" >&2
    .venv/bin/python -m pip install --quiet --no-cache-dir --upgrade pip
    # torch is pinned to its CPU build in pyproject.toml (a plain `torch` pulls a CUDA build)
    .venv/bin/python -m pip install --quiet --no-cache-dir -e '.[dev]'
    cp pyproject.toml "$STAMP"
fi

export PATH="$ROOT/.venv/bin:$PATH"
export DAGSTER_HOME="${DAGSTER_HOME:-$ROOT/data/dagster_home}"
mkdir -p "$DAGSTER_HOME"
export GX_ANALYTICS_ENABLED=False
# The project's own instance follows the project's settings (pools, run monitoring) when they
# change; an instance of your own (DAGSTER_HOME set) only gets them when it has none.
if [ ! -f "$DAGSTER_HOME/dagster.yaml" ] || { [ "$DAGSTER_HOME" = "$ROOT/data/dagster_home" ] \
        && ! cmp -s orchestration/dagster.yaml "$DAGSTER_HOME/dagster.yaml"; }; then
    cp orchestration/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
    # create (or upgrade) the instance's storage once, so that runs started together never race
    dagster instance migrate >/dev/null
fi
