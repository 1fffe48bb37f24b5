#!/usr/bin/env bash
# Custom SQL indicators: the cost of a query over a large projects source, beside the built-in
# spending family that reads the same rows, and a Python polars group-by on the same file as
# the peer. The query sums amounts per area and period: the same figure as `spend_total`, which
# the script checks.
# Usage: bench/custom.sh [MB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-100}; runs=${2:-3}
python3 -m pip install --quiet --disable-pip-version-check polars pyarrow
work="${TMPDIR:-/tmp}/cityimpact-custom"; mkdir -p "$work"
data="$work/projects-${mb}mb.csv"
[ -f "$data" ] || python3 bench/gen_projects.py "$mb" "$data"
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/cityimpact"
cat > "$work/custom.toml" <<TOML
[pipeline]
name = "custom-bench"
periods = { from = 2015, to = 2024 }
[sources.projects]
kind = "projects"
path = "$data"
[currency]
rates = { PLN = 0.23 }
[indicators]
exclusion = "none"
climate = "none"
[indicators.custom.spend_sql]
name = "Project spending (SQL)"
unit = "EUR"
sql = """
SELECT area, period, SUM(amount) AS value, COUNT(*) AS n
FROM projects GROUP BY area, period
"""
TOML
for i in $(seq "$runs"); do
  "$bin" run "$work/custom.toml" --out "$work/out" --force -q
  python3 -c "
import json, sys
m = json.load(open(sys.argv[1]))
s = {x['stage']: x['seconds'] for x in m['stages']}
print(f\"run {sys.argv[2]}: custom query {s['indicators:custom:spend_sql']:.3f} s, spending family {s['indicators:spending']:.3f} s, ingest {s['ingest:projects']:.3f} s\")
" "$work/out/manifest.json" "$i"
  python3 -c "
import polars as pl, sys, time
t = time.perf_counter()
df = pl.read_csv(sys.argv[1], schema_overrides={'amount': pl.Float64}, ignore_errors=True)
t1 = time.perf_counter()
g = df.with_columns(pl.col('start').str.slice(0, 4).cast(pl.Int32).alias('period')).group_by('area', 'period').agg(pl.col('amount').sum())
t2 = time.perf_counter()
print(f'polars peer: read {t1 - t:.3f} s, group-by {t2 - t1:.3f} s ({g.height} groups)')
" "$data"
done
python3 -c "
import pyarrow.parquet as pq, sys
t = pq.read_table(sys.argv[1]).to_pandas()
a = t[(t.indicator == 'spend_total') & (t.level != 'project') & t.breakdown.isna()].set_index(['area', 'period']).value
b = t[t.indicator == 'spend_sql'].set_index(['area', 'period']).value
print(f'spend_sql against spend_total: {len(b)} values, largest relative difference {((a - b).abs() / a).max():.1e}')
" "$work/out/indicators.parquet"
