#!/usr/bin/env bash
# Issue 7 benchmark on real data: `volfit allocate` over the January 2026 svcj snapshots
# (BTC + ETH), a 206-candidate book (crates/bench/data/alloc_book_206.toml: 6 expiries × 8
# strikes × call/put + futures + perpetual per coin) and 10⁴ historical-bootstrap scenarios,
# ES 0.95, the example config otherwise (7-point frontier included). Prints the CLI summary
# (its solver line has the main LP's time) and /usr/bin/time's wall time and peak RSS.
#
#   crates/bench/peers/alloc_real.sh [historical|heston]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
DATA="$ROOT/../shared/data/svcj_deribit_2026"
KIND="${1:-historical}"
if [ ! -d "$DATA" ]; then echo "no $DATA: skipping"; exit 0; fi
RUN="$(mktemp -d)"
sed "s/^count = .*/count = 10000/; s/^kind = .*/kind = \"$KIND\"/" \
  "$ROOT/examples/alloc/alloc.toml" > "$RUN/alloc.toml"
(cd "$ROOT" && cargo build --release -q -p volfit-cli)
/usr/bin/time -v "$ROOT/target/release/volfit" allocate "$DATA"/deribit_options_snapshot_202601*.csv.gz \
  --book "$ROOT/crates/bench/data/alloc_book_206.toml" --config "$RUN/alloc.toml" --out "$RUN/out" \
  2> "$RUN/time.txt" | sed -n 1,5p
grep -E "Elapsed|Maximum resident|User time" "$RUN/time.txt"
