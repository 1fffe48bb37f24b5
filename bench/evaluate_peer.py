"""The peer for benches/evaluate.rs: Python csdid (a port of R did) on the same panel, the
same work: group-time effects with never-treated controls, outcome regression (no
covariates), analytic and multiplier-bootstrap inference (1 000 replicates, csdid's default),
and the dynamic, group, calendar and simple aggregations.

Usage: python3 bench/evaluate_peer.py PANEL.csv [RUNS]
"""
import resource
import sys
import time

import pandas as pd
from csdid.att_gt import ATTgt

path = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
df = pd.read_csv(path)
for _ in range(runs):
    t = time.time()
    out = ATTgt(yname="lemp", gname="first.treat", idname="countyreal", tname="year",
                xformla=None, data=df).fit(est_method="reg", bstrap=True)
    for kind in ["dynamic", "group", "calendar", "simple"]:
        out.aggte(typec=kind)
    s = time.time() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"python-csdid areas={df.countyreal.nunique()} periods={df.year.nunique()} seconds={s:.3f} peak_mb={peak:.0f}", flush=True)
