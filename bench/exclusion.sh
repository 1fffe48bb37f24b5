#!/usr/bin/env bash
# Exclusion benchmark, cityimpact against a Python polars peer on the same Parquet file.
# Usage: bench/exclusion.sh [ROWS] [REPLICATES] [RUNS]
#   bench/exclusion.sh 10000000 0 3     # point estimates, 10 M records
#   bench/exclusion.sh 1000000 200 3    # 1 M records, 200 bootstrap replicates (Rust only;
#                                       # the peer computes point estimates, and is run once
#                                       # per replicate count for the ratio)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}; reps=${2:-0}; runs=${3:-3}
python3 -m pip install --quiet --disable-pip-version-check polars numpy pyarrow
data="${TMPDIR:-/tmp}/cityimpact-bench-$rows.parquet"
[ -f "$data" ] || python3 bench/gen_microdata.py "$rows" "$data"
cargo build --release --bench exclusion 2>/dev/null || cargo bench --no-run --bench exclusion
bin=$(ls -t target/release/deps/exclusion-* 2>/dev/null | grep -v '\.d$' | head -n1 || true)
[ -n "${CARGO_TARGET_DIR:-}" ] && bin=$(ls -t "$CARGO_TARGET_DIR"/release/deps/exclusion-* | grep -v '\.d$' | head -n1)
for i in $(seq "$runs"); do "$bin" "$data" "$reps"; done | tee /tmp/cityimpact-bench.txt
if [ "$reps" = 0 ]; then
  for i in $(seq "$runs"); do python3 bench/exclusion_polars.py "$data"; done | tee -a /tmp/cityimpact-bench.txt
fi
python3 - <<'PY'
import re, statistics
lines = open("/tmp/cityimpact-bench.txt").read().splitlines()
def med(prefix, key):
    vals = [float(re.search(key + r"=([\d.]+)", l).group(1)) for l in lines if l.startswith(prefix)]
    return statistics.median(vals) if vals else None
r, p = med("cityimpact", "seconds"), med("python-polars", "seconds")
print(f"median seconds: cityimpact {r}, python polars {p}")
print(f"median peak MB: cityimpact {med('cityimpact', 'peak_mb')}, python polars {med('python-polars', 'peak_mb')}")
if r and p:
    print(f"ratio python/cityimpact: {p / r:.2f}x")
PY
