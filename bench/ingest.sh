#!/usr/bin/env bash
# Ingest benchmark: cityimpact's ingest + contract against polars' bare CSV reader (Python
# polars, all cores, every column read as text: its type inference stops at the first bad
# value the file holds on purpose) on the same CSV of project records.
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
  python3 -c "
import polars as pl, resource, sys, time
t = time.perf_counter(); df = pl.read_csv(sys.argv[1], infer_schema_length=0); s = time.perf_counter() - t
print(f'polars rows={df.height} seconds={s:.2f} peak_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f}')
" "$data"
done | tee -a /tmp/cityimpact-ingest.txt
python3 - <<'PY'
import re, statistics
lines = open("/tmp/cityimpact-ingest.txt").read().splitlines()
med = lambda p: statistics.median(float(re.search(r"seconds=([\d.]+)", l).group(1)) for l in lines if l.startswith(p))
c, p = med("cityimpact"), med("polars")
print(f"median seconds: cityimpact {c}, polars read_csv {p}; cityimpact takes {c / p:.1f}x as long")
PY
