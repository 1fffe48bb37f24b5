#!/usr/bin/env bash
# JSON ingest benchmark: the projects of bench/gen_projects.py as a JSON array of records and as
# NDJSON (numbers as JSON numbers where they are numbers, the generator's broken cells as
# strings), read through cityimpact's ingest and contract (every cell checked, rejects kept),
# beside Python polars' read_json / read_ndjson of the same file (all cores; its schema read
# from every record, since a broken cell would stop it otherwise).
# Usage (from the project root): bench/json.sh [MB of CSV] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}; runs=${2:-5}
python3 -c "import polars" 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check polars
work=${TMPDIR:-/tmp}/cityimpact-json; mkdir -p "$work"
csv="$work/projects-${mb}mb.csv"
[ -f "$csv" ] || python3 bench/gen_projects.py "$mb" "$csv" >/dev/null
[ -f "$work/projects-${mb}mb.ndjson" ] || python3 - "$csv" "$work/projects-${mb}mb" <<'PY'
import csv, json, sys
numbers = ("amount", "beneficiaries", "co2e_avoided_t")
def record(r):
    for k in numbers:
        try:
            r[k] = int(r[k]) if r[k].isdigit() else float(r[k])
        except ValueError:
            pass
    return r
with open(sys.argv[1]) as f, open(sys.argv[2] + ".ndjson", "w") as nd, open(sys.argv[2] + ".json", "w") as js:
    js.write("[")
    for i, r in enumerate(csv.DictReader(f)):
        text = json.dumps(record(r))
        nd.write(text + "\n")
        js.write(("," if i else "") + "\n" + text)
    js.write("\n]\n")
PY
cargo bench --no-run --bench ingest
bin=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/ingest-* | grep -v '\.d$' | head -n1)
out="$work/times"; : > "$out"
for i in $(seq "$runs"); do
  for ext in json ndjson; do
    file="$work/projects-${mb}mb.$ext"
    "$bin" "$file" 1 | sed "s/^cityimpact/cityimpact-$ext/" | tee -a "$out"
    python3 -c "
import polars as pl, resource, sys, time
t = time.perf_counter()
read = pl.read_json if sys.argv[2] == 'json' else pl.read_ndjson
df = read(sys.argv[1], infer_schema_length=None)
s = time.perf_counter() - t
print(f'polars-{sys.argv[2]} rows={df.height} seconds={s:.2f} peak_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f}')
" "$file" "$ext" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
def med(prefix, key):
    return statistics.median(float(re.search(key + r"=([\d.]+)", l).group(1)) for l in lines if l.startswith(prefix + " "))
for ext in ("json", "ndjson"):
    c, p = med("cityimpact-" + ext, "seconds"), med("polars-" + ext, "seconds")
    cm, pm = med("cityimpact-" + ext, "peak_mb"), med("polars-" + ext, "peak_mb")
    print(f"{ext}: cityimpact {c:.2f} s ({cm:.0f} MB), polars {p:.2f} s ({pm:.0f} MB): {c / p:.2f}x the time")
PY
