#!/usr/bin/env bash
# The Python wheel, end to end: a fresh venv with maturin, ziglang, pyarrow, numpy and the
# engines (dask[distributed], ray); the one wheel built is the portable one, abi3
# manylinux2014, into the workspace's target dir (so the compiled dependencies are shared
# with the cargo build); its highest glibc symbol version checked to be at most 2.17
# (tests/glibc_max.py); installed; then tests/test_volfit.py (against the CLI binary beside
# it) and tests/test_cluster.py (Dask LocalCluster and Ray, 2 worker processes each). Each
# step prints its wall time.
#
# manylinux2014: zig links the extension against glibc 2.17's symbols, through maturin's
# own `zig cc` wrapper given to rustc as the linker of the final crate only. `maturin
# --zig` would do the same with an explicit `--target`, which puts the build in another
# target dir and recompiles the whole dependency tree (34 min on a loaded 2-core box);
# this way only the extension crate is compiled and linked (measured: +17 s CPU, the zig
# libc stubs built on first use).
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
step "$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.16,<2" ziglang pyarrow numpy pandas \
    "dask[distributed]" ray
# The CLI the checks compare against; `.ci/run` has just built it with `cargo test --release`
# (the same code, other features), so it sets VOLFIT_CLI_BUILT=1 to skip a second build.
if [ "${VOLFIT_CLI_BUILT:-0}" != 1 ] || [ ! -x "$CARGO_TARGET_DIR/release/volfit" ]; then
    step cargo build --release -q -p volfit-cli
fi
rm -rf "$CARGO_TARGET_DIR/wheels"
zigcc="$CARGO_TARGET_DIR/zig-cc-glibc2.17"
# maturin finds zig as `python3 -m ziglang` on the PATH: the venv's, for the linker only.
printf '#!/bin/sh\nPATH="%s:$PATH" exec "%s" zig cc -- -target %s-linux-gnu.2.17 "$@"\n' \
    "$venv/bin" "$venv/bin/maturin" "$(uname -m)" >"$zigcc"
chmod +x "$zigcc"
step "$venv/bin/maturin" build --release -q --compatibility manylinux2014 -m crates/py/Cargo.toml \
    --out "$CARGO_TARGET_DIR/wheels" -- -C "linker=$zigcc"
wheel=$(ls "$CARGO_TARGET_DIR"/wheels/volfit-*manylinux_2_17*.whl)
"$venv/bin/python" crates/py/tests/glibc_max.py "$wheel" 2.17
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
tests="$PWD/crates/py/tests"
cd "$CARGO_TARGET_DIR"  # import the installed wheel, not the source tree
export VOLFIT_CLI="$CARGO_TARGET_DIR/release/volfit"
step "$venv/bin/python" "$tests/test_volfit.py"
step "$venv/bin/python" "$tests/test_cluster.py"
# The console entry point runs (the engines themselves are checked above).
"$venv/bin/volfit-py" --version
