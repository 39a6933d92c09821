#!/usr/bin/env bash
# A wheel that installs anywhere: maturin --zig for manylinux2014 (ziglang from PyPI), then
# the check that its highest glibc symbol version is at most 2.17. Slower than CI wants (a
# second optimised build of the extension against zig's linker); run by hand before a release.
#
# Usage: crates/py/tests/manylinux.sh        VENV=dir to reuse a venv.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
venv="${VENV:-$CARGO_TARGET_DIR/py-venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.16,<2" ziglang
out="$CARGO_TARGET_DIR/wheels-manylinux"
rm -rf "$out"
PATH="$venv/bin:$PATH" maturin build --release --strip -q --zig --compatibility manylinux2014 \
    -m crates/py/Cargo.toml --out "$out"
wheel=$(ls "$out"/volfit-*manylinux*2014*.whl 2>/dev/null || ls "$out"/volfit-*manylinux_2_17*.whl)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" -m zipfile -e "$wheel" "$tmp"
so=$(find "$tmp" -name '_volfit*.so')
highest=$(objdump -T "$so" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "$(basename "$wheel"): highest glibc symbol $highest"
if [ "$(printf '%s\nGLIBC_2.17\n' "$highest" | sort -V | tail -1)" != "GLIBC_2.17" ]; then
    echo "manylinux: $highest is newer than GLIBC_2.17" >&2
    exit 1
fi
