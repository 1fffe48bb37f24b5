#!/usr/bin/env python3
"""The floor of the exclusion benchmark: what any tool must do at least on the same file.

Reads the four columns the eight indicators need (income, weight, region, household) from a
synth.py Parquet file once with pyarrow (all cores), and sorts the incomes once with numpy
(one core). Prints the medians of RUNS runs, in seconds, measured inside the process.
Usage: python3 bench/floor.py FILE.parquet [RUNS]
"""
import statistics
import sys
import time

import numpy as np
import pyarrow.parquet as pq

path = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
reads, sorts = [], []
for _ in range(runs):
    t = time.perf_counter()
    table = pq.read_table(path, columns=["eqIncome", "rb050", "db040", "db030"])
    reads.append(time.perf_counter() - t)
    income = table.column("eqIncome").to_numpy()
    t = time.perf_counter()
    np.sort(income, kind="stable")
    sorts.append(time.perf_counter() - t)
r, s = statistics.median(reads), statistics.median(sorts)
print(f"read the 4 columns {r:.2f} s, sort the incomes {s:.2f} s, floor {r + s:.2f} s ({table.num_rows} rows)")
