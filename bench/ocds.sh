#!/usr/bin/env bash
# OCDS release packages: wall time and peak memory of reading a large package (compiled per
# process, one row per award) against Python's json.load of the same file (the floor a
# Python script starts from, before compiling anything), medians of RUNS.
# Usage: bench/ocds.sh [MB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-200}; runs=${2:-3}
work="${TMPDIR:-/tmp}/cityimpact-ocds"; mkdir -p "$work"
data="$work/package-${mb}mb.json"
[ -f "$data" ] || python3 bench/gen_ocds.py "$mb" "$data"
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/cityimpact"
cat > "$work/ocds.toml" <<TOML
[pipeline]
name = "ocds-bench"
periods = { from = 2019, to = 2023 }
[sources.c]
kind = "procurement"
format = "ocds"
path = "$data"
[currency]
rates = { PLN = 0.23 }
[indicators]
exclusion = "none"
climate = "none"
TOML
measure() { # prints "seconds peak_kb"
  /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for what in cityimpact json.load; do
  : > "$work/$what.t"; : > "$work/$what.m"
  for _ in $(seq "$runs"); do
    if [ "$what" = cityimpact ]; then
      r=$(measure "$bin" -q run "$work/ocds.toml" --out "$work/out" --force)
    else
      r=$(measure python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$data")
    fi
    echo "${r% *}" >> "$work/$what.t"; echo "${r#* }" >> "$work/$what.m"
  done
  printf "%-11s %6.2f s  %6.0f MiB  (median of %d, %s MB package)\n" "$what" \
    "$(median < "$work/$what.t")" "$(echo "$(median < "$work/$what.m") / 1024" | bc -l)" "$runs" "$mb"
done
