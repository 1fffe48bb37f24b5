#!/usr/bin/env bash
# The evaluate stage against Python csdid (a port of R did) on the same synthetic panel.
# Usage: bench/evaluate.sh [AREAS] [PERIODS] [REPLICATES] [RUNS]
#   bench/evaluate.sh 10000 20 1000 3
set -euo pipefail
cd "$(dirname "$0")/.."
areas=${1:-10000}; periods=${2:-20}; reps=${3:-1000}; runs=${4:-3}
python3 -m pip install --quiet --disable-pip-version-check csdid pandas
target=${CARGO_TARGET_DIR:-target}
cargo bench --no-run --bench evaluate
bin=$(ls -t "$target"/release/deps/evaluate-* | grep -v '\.d$' | head -n1)
panel="${TMPDIR:-/tmp}/cityimpact-evaluate-$areas-$periods.csv"
out=/tmp/cityimpact-evaluate-bench.txt
"$bin" "$areas" "$periods" "$reps" "$runs" --csv "$panel" | tee "$out"
python3 bench/evaluate_peer.py "$panel" "$runs" | tee -a "$out"
python3 - "$out" <<'PY'
import re, statistics, sys
lines = open(sys.argv[1]).read().splitlines()
def med(prefix):
    v = [float(re.search(r"seconds=([\d.]+)", l).group(1)) for l in lines if l.startswith(prefix)]
    return statistics.median(v) if v else None
r, p = med("cityimpact"), med("python-csdid")
print(f"median seconds: cityimpact {r}, python csdid {p}")
if r and p:
    print(f"ratio cityimpact / csdid: {r / p:.3f} ({p / r:.1f}x faster)")
PY
