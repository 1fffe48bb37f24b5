#!/usr/bin/env bash
# Ingest benchmark: cityimpact's ingest + contract against polars' CSV reader (Python polars,
# all cores) on the same CSV of project records, in two ways: bare (every column as text; its
# type inference stops at the first bad value the file holds on purpose) and typed (numbers
# and dates, bad values turned into nulls without a word: what cityimpact rejects with a
# reason).
# Usage: bench/ingest.sh [MB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-1000}; runs=${2:-3}
python3 -m pip install --quiet --disable-pip-version-check polars
data="${TMPDIR:-/tmp}/cityimpact-projects-${mb}mb.csv"
[ -f "$data" ] || python3 bench/gen_projects.py "$mb" "$data"
cargo bench --no-run --bench ingest
bin=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/ingest-* | grep -v '\.d$' | head -n1)
"$bin" "$data" "$runs" | tee /tmp/cityimpact-ingest.txt
for i in $(seq "$runs"); do
  for how in bare typed; do
    python3 -c "
import polars as pl, resource, sys, time
how = sys.argv[2]
t = time.perf_counter()
if how == 'bare':
    df = pl.read_csv(sys.argv[1], infer_schema_length=0)
else:
    types = {c: pl.Float64 for c in ['amount', 'beneficiaries', 'co2e_avoided_t']}
    types.update(start=pl.Date, end=pl.Date)
    df = pl.read_csv(sys.argv[1], schema_overrides=types, ignore_errors=True)
s = time.perf_counter() - t
print(f'polars-{how} rows={df.height} seconds={s:.2f} peak_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f}')
" "$data" "$how"
  done
done | tee -a /tmp/cityimpact-ingest.txt
python3 - <<'PY'
import re, statistics
lines = open("/tmp/cityimpact-ingest.txt").read().splitlines()
med = lambda p: statistics.median(float(re.search(r"seconds=([\d.]+)", l).group(1)) for l in lines if l.startswith(p))
c, b, t = med("cityimpact"), med("polars-bare"), med("polars-typed")
print(f"median seconds: cityimpact {c}, polars bare {b}, polars typed {t}")
print(f"cityimpact takes {c / b:.1f}x as long as polars bare, {c / t:.1f}x as long as polars typed")
PY
