#!/usr/bin/env bash
# cityimpact against the shared peers (../shared/peers: Python polars and DuckDB SQL) on the
# same synth.py files: the eight Laeken indicators, nationally and for 9 regions, no bootstrap.
# Every tool runs RUNS times, alternating, on a Parquet and a CSV copy of the same persons;
# the table gives medians of wall time and peak memory, the ratios to the peers, and checks
# that the national figures agree.
# Usage (from the project root): bench/peers.sh [PERSONS] [RUNS] [REPLICATES]
#   bench/peers.sh 10000000 5        # the issue's 10 M comparison
#   bench/peers.sh 1000000 5 500     # and cityimpact alone with 500 bootstrap replicates
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}; runs=${2:-5}; reps=${3:-0}
peers=${CITYIMPACT_SHARED:-../shared}/peers
[ -d "$peers" ] || { echo "no $peers: the shared peers are needed"; exit 2; }
python3 -c "import polars, pyarrow, numpy, duckdb" 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check polars pyarrow numpy duckdb
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet
bin="$target/release/cityimpact"
work=${TMPDIR:-/tmp}/cityimpact-peers; mkdir -p "$work"
for ext in parquet csv; do
  f="$work/persons-$n.$ext"
  [ -f "$f" ] || python3 "$peers/synth.py" --persons "$n" --regions 9 --seed 1 --out "$f" >/dev/null 2>&1
done
pipeline() { # FORMAT REPLICATES
  cat <<TOML
[pipeline]
name = "peers"
[sources.silc]
kind = "microdata"
path = "$work/persons-$n.$1"
format = "$1"
period = 2020
columns = { income = "eqIncome", weight = "rb050", area = "db040", household = "db030" }
[indicators]
exclusion = ["arpt", "arpr", "arpr40", "arpr50", "arpr70", "qsr", "gini", "rmpg"]
spending = "none"
climate = "none"
breakdowns = [["area"]]
bootstrap = { replicates = $2, seed = 1 }
TOML
}
pipeline parquet 0 > "$work/parquet.toml"; pipeline csv 0 > "$work/csv.toml"
pipeline parquet "$reps" > "$work/boot.toml"
: > "$work/times"
timed() { # LABEL COMMAND...
  local label=$1; shift
  /usr/bin/time -f "$label %e %M" -a -o "$work/times" "$@" >"$work/last.out" 2>"$work/last.err" ||
    { echo "$label failed:"; tail -3 "$work/last.err"; exit 1; }
}
for _ in $(seq "$runs"); do
  timed cityimpact-parquet "$bin" run "$work/parquet.toml" --out "$work/out-parquet" --force -q
  timed polars-parquet python3 "$peers/peer_polars.py" "$work/persons-$n.parquet" --breakdown db040
  cp "$work/last.out" "$work/polars.json"
  timed duckdb-parquet python3 "$peers/peer_duckdb.py" "$work/persons-$n.parquet" --breakdown db040
  timed cityimpact-csv "$bin" run "$work/csv.toml" --out "$work/out-csv" --force -q
  timed polars-csv python3 "$peers/peer_polars.py" "$work/persons-$n.csv" --breakdown db040
  if [ "$reps" != 0 ]; then
    timed "cityimpact-bootstrap-$reps" "$bin" run "$work/boot.toml" --out "$work/out-boot" --force -q
  fi
done
python3 - "$work" "$n" <<'PY'
import json, statistics as st, sys
import pyarrow.parquet as pq
work, n = sys.argv[1], int(sys.argv[2])
runs = {}
for line in open(f"{work}/times"):
    label, secs, kb = line.split()
    runs.setdefault(label, []).append((float(secs), int(kb) / 1024))
med = {k: (st.median(s for s, _ in v), st.median(m for _, m in v)) for k, v in runs.items()}
print(f"{n / 1e6:g} M persons, 9 regions, medians of {len(runs['cityimpact-parquet'])} runs")
print("| run | wall s | peak MiB |")
print("|---|---|---|")
for k, (s, m) in med.items():
    print(f"| {k} | {s:.2f} | {m:.0f} |")
ours, pol, duck, csv, pcsv = (med[k][0] for k in
    ["cityimpact-parquet", "polars-parquet", "duckdb-parquet", "cityimpact-csv", "polars-csv"])
print(f"ratios: Parquet {ours / pol:.2f}x polars (goal <= 0.5), {ours / duck:.2f}x DuckDB (goal <= 0.2); "
      f"CSV {csv / pcsv:.2f}x polars (goal <= 0.7); peak memory {med['cityimpact-parquet'][1] / med['polars-parquet'][1]:.2f}x polars")
# The national figures agree with the polars peer's.
peer = json.load(open(f"{work}/polars.json"))["overall"]
t = pq.read_table(f"{work}/out-parquet/indicators.parquet").to_pylist()
mine = {r["indicator"]: r["value"] for r in t if r["area"] == "ALL" and r["breakdown"] is None}
worst = max(abs(mine[k] - v) / max(abs(v), 1e-300) for k, v in peer.items() if k in mine)
print(f"national figures: largest relative difference to the polars peer {worst:.1e}")
PY
