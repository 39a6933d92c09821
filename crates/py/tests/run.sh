#!/usr/bin/env bash
# The Python wheel, end to end: a fresh venv with maturin, pyarrow, numpy and the engines
# (dask[distributed], ray); the abi3 wheel built into the workspace's target dir (so the
# compiled dependencies are shared with the cargo build); installed; then
# tests/test_volfit.py (against the CLI binary beside it) and tests/test_cluster.py (Dask
# LocalCluster and Ray, 2 worker processes each). Each step prints its wall time.
#
# Usage (from anywhere): crates/py/tests/run.sh        VENV=dir to reuse a venv.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
venv="${VENV:-$CARGO_TARGET_DIR/py-venv}"
step() {
    local start=$SECONDS
    "$@"
    echo "py: $((SECONDS - start)) s  $*" >&2
}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
step "$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.16,<2" pyarrow numpy pandas \
    "dask[distributed]" ray
# The CLI the checks compare against; `.ci/run` has just built it with `cargo test --release`
# (the same code, other features), so it sets VOLFIT_CLI_BUILT=1 to skip a second build.
if [ "${VOLFIT_CLI_BUILT:-0}" != 1 ] || [ ! -x "$CARGO_TARGET_DIR/release/volfit" ]; then
    step cargo build --release -q -p volfit-cli
fi
rm -rf "$CARGO_TARGET_DIR/wheels"
step "$venv/bin/maturin" build --release -q -m crates/py/Cargo.toml --out "$CARGO_TARGET_DIR/wheels"
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$CARGO_TARGET_DIR"/wheels/volfit-*.whl
tests="$PWD/crates/py/tests"
cd "$CARGO_TARGET_DIR"  # import the installed wheel, not the source tree
export VOLFIT_CLI="$CARGO_TARGET_DIR/release/volfit"
step "$venv/bin/python" "$tests/test_volfit.py"
step "$venv/bin/python" "$tests/test_cluster.py"
# The console entry point runs (the engines themselves are checked above).
"$venv/bin/volfit-py" --version
