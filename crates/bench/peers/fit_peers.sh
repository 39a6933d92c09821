#!/usr/bin/env bash
# One back-to-back run of the model-fit comparison on one real svcj snapshot:
#   1. cargo bench --bench fit (volfit vs volsurf, same process, same quotes);
#   2. the Python peers on the same file, normalized: scipy SVI / SABR, QuantLib SABR and Heston.
# The load average is printed between steps (the machine is shared).
#
#   crates/bench/peers/fit_peers.sh [SNAPSHOT_FILE_NAME]
#
# Needs /work/shared/peers (read-only; copied to a scratch dir) and a venv with its
# requirements.txt (PEERS_VENV, default /work/venvs/peers). Results: $RUN/results/*.jsonl.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
FILE="${1:-deribit_options_snapshot_20260105T041127Z.csv.gz}"
DATA="$ROOT/../shared/data/svcj_deribit_2026/$FILE"
PEERS="${PEERS_SRC:-$ROOT/../shared/peers}"
PY="${PEERS_VENV:-/work/venvs/peers}/bin/python"
RUN="${RUN:-/tmp/peers-run-fit}"
if [ ! -f "$DATA" ]; then echo "no $DATA: skipping"; exit 0; fi

echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$ROOT" && FIT_BENCH_FILE="$FILE" cargo bench -p volfit-bench --bench fit)

echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -x "$PY" ] || [ ! -d "$PEERS" ]; then echo "no Python peers ($PY, $PEERS): skipping"; exit 0; fi
mkdir -p "$RUN/results"
cp "$PEERS"/*.py "$RUN"/
cd "$RUN"
"$PY" normalize.py "$DATA" --outdir data/real
CSV="data/real/svcj_${FILE%.gz}"
"$PY" svi_scipy.py "$CSV" --losses linear --variants trf,qe,qe+trf --out results/svi.jsonl
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" sabr_scipy.py "$CSV" --beta 1 --losses linear --out results/sabr.jsonl
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" heston_quantlib.py "$CSV" --variants ql_rel,ql_iv --repeats 3 --out results/heston.jsonl
echo "== $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
