"""Reads every table of a cityimpact output folder with pyarrow and DuckDB, as researchers
will, and checks the types and metadata the output contract promises.

Usage: python3 tests/read_outputs.py OUTPUT_DIR
"""
import json
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

out = sys.argv[1]
KEYS = ["cityimpact.version", "cityimpact.contract", "cityimpact.pipeline", "cityimpact.run_id", "cityimpact.inputs"]
checked = 0
for table in ["indicators", "rejects"]:
    path = f"{out}/{table}.parquet"
    meta = pq.read_metadata(path)
    kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
    for key in KEYS:
        assert key in kv, f"{table}: missing {key}"
    assert kv["cityimpact.contract"] == "1"
    inputs = json.loads(kv["cityimpact.inputs"])
    assert inputs and all(len(i["blake3"]) == 64 for i in inputs), inputs
    assert json.loads(kv["cityimpact.pipeline"])["name"]
    t = pq.read_table(path)
    for field in t.schema:
        # Plain types only: no string_view, large_string or dictionary.
        assert not pa.types.is_string_view(field.type), f"{table}.{field.name}: {field.type}"
        assert not pa.types.is_large_string(field.type), f"{table}.{field.name}: {field.type}"
        assert not pa.types.is_dictionary(field.type), f"{table}.{field.name}: {field.type}"
    # Compression and statistics, per the contract.
    col = meta.row_group(0).column(0) if meta.num_row_groups else None
    if col is not None:
        assert col.compression == "ZSTD", col.compression
        assert col.statistics is not None and col.statistics.has_min_max
    n_duck = duckdb.sql(f"select count(*) from read_parquet('{path}')").fetchall()[0][0]
    assert n_duck == t.num_rows, (n_duck, t.num_rows)
    checked += 1

ind = pq.read_table(f"{out}/indicators.parquet")
assert ind.schema.field("period").type == pa.int32()
assert ind.schema.field("value").type == pa.float64()
assert ind.schema.field("n").type == pa.int64()
assert ind.schema.field("indicator").type == pa.string()
catalogue = json.loads(pq.read_metadata(f"{out}/indicators.parquet").metadata[b"cityimpact.catalogue"])
assert any(c["id"] == "gini" for c in catalogue)
# DuckDB sees the same numbers pyarrow does.
s = duckdb.sql(f"select sum(value) from read_parquet('{out}/indicators.parquet') where indicator = 'spend_total'").fetchall()[0][0]
s2 = sum(v for v, i in zip(ind.column("value").to_pylist(), ind.column("indicator").to_pylist()) if i == "spend_total")
assert abs(s - s2) < 1e-6 * max(1, abs(s2)), (s, s2)
df = ind.to_pandas()
assert len(df) == ind.num_rows
print(f"{checked} passed, 0 failed")
