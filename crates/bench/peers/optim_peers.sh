#!/usr/bin/env bash
# One back-to-back run of the optimizer comparison on the same problems and tolerances:
#   1. cargo bench --bench optim: volfit LM vs the levenberg-marquardt crate (interleaved, same
#      process) and L-BFGS vs argmin; our times and final costs are saved as JSON;
#   2. scipy.optimize.least_squares (lm, trf, trf+huber) on the same data, with the time ratios
#      scipy/volfit per case and the relative difference of the final costs.
# The load average is printed between steps (the machine is shared).
#
#   crates/bench/peers/optim_peers.sh
#
# Needs a Python with numpy and scipy (PEERS_VENV, default /work/venvs/peers).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
PY="${PEERS_VENV:-/work/venvs/peers}/bin/python"
RUN="${RUN:-/tmp/peers-run-optim}"
mkdir -p "$RUN"
cd "$ROOT"
cargo run --release -q -p volfit-bench --bin export_optim_problems -- "$RUN/problems.json"
echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
OPTIM_BENCH_JSON="$RUN/ours.json" cargo bench -p volfit-bench --bench optim -- zzz_tables_only
echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -x "$PY" ]; then echo "no Python peer ($PY): skipping scipy"; exit 0; fi
"$PY" crates/bench/peers/least_squares_scipy.py "$RUN/problems.json" --repeat 30 \
  --json "$RUN/scipy.json" --ours "$RUN/ours.json"
echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
