"""Writes synthetic person records for the exclusion benchmark as Parquet, with role names
as columns: income, weight, household, area, sex, age, period.

Usage: python3 bench/gen_microdata.py ROWS OUT.parquet
Households of 1-5 persons, 20 regions, one period; log-normal incomes (seeded).
"""
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

rows, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(20240)
sizes = rng.integers(1, 6, size=rows // 2)
household = np.repeat(np.arange(sizes.size), sizes)[:rows]
n = household.size
hh_income = rng.lognormal(10.0, 0.6, size=sizes.size)
region = rng.integers(0, 20, size=sizes.size)
weight = rng.uniform(50, 400, size=sizes.size)
table = pa.table(
    {
        "income": hh_income[household],
        "weight": weight[household],
        "household": household.astype(str),
        "area": np.char.add("R", region[household].astype(str)),
        "sex": np.where(rng.random(n) < 0.5, "male", "female"),
        "age": rng.integers(0, 95, size=n).astype(np.float64),
        "period": np.full(n, 2023, dtype=np.int32),
    }
)
pq.write_table(table, out, compression="zstd")
print(f"{n} rows -> {out}")
