#!/usr/bin/env bash
# The portable wheel: maturin with zig as the linker (`pip install ziglang`) builds a
# manylinux2014 wheel, then tests/glibc_max.py checks that its highest glibc symbol version
# is at most 2.17 and the wheel installs and imports in a fresh venv.
#
# Not part of `.ci/run`: it compiles the extension again for an explicit target (another
# full optimised build of the dependency tree); run it once per release.
#
# Usage (from anywhere): crates/py/tests/manylinux.sh        VENV=dir to reuse a venv.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
venv="${VENV:-$CARGO_TARGET_DIR/py-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.16,<2" ziglang pyarrow numpy
out="$CARGO_TARGET_DIR/wheels-manylinux2014"
rm -rf "$out"
start=$SECONDS
PATH="$venv/bin:$PATH" "$venv/bin/maturin" build --release --strip -q --zig --compatibility manylinux2014 \
    -m crates/py/Cargo.toml --out "$out"
echo "manylinux: wheel built in $((SECONDS - start)) s"
wheel=$(ls "$out"/volfit-*manylinux*2014*.whl "$out"/volfit-*manylinux_2_17*.whl 2>/dev/null | head -1)
[ -n "$wheel" ] || { echo "manylinux: no manylinux2014 wheel in $out" >&2; ls "$out" >&2; exit 1; }
"$venv/bin/python" crates/py/tests/glibc_max.py "$wheel" 2.17
check="$CARGO_TARGET_DIR/py-venv-manylinux"
rm -rf "$check" && python3 -m venv "$check"
"$check/bin/pip" install -q --disable-pip-version-check "$wheel"
(cd / && "$check/bin/python" -c 'import volfit; print("manylinux: imports volfit", volfit.__version__)')
rm -rf "$check"
