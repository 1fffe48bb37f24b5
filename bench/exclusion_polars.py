"""The peer of benches/exclusion.rs: the same exclusion indicators (arpt, arpr, arpr40/50/70,
qsr, gini, rmpg) with Eurostat's weighted quantiles and the national threshold, for the whole
population and 5 breakdowns, written as a Python polars query.

Usage: python3 bench/exclusion_polars.py DATA.parquet
Prints the number of values, seconds and peak memory, like the Rust bench.
"""
import resource
import sys
import time

import polars as pl

BANDS = [(0, 17), (18, 64), (65, None), (16, 24), (25, 49), (50, 64)]
BREAKDOWNS = [["area"], ["sex"], ["age_group"], ["area", "sex"], ["age_group", "sex"]]


def wquantile(x, w, p):
    """Eurostat's weighted quantile of x (sorted ascending) with weights w."""
    share = w.cum_sum() / w.sum()
    j = (share >= p).arg_max()
    exact = share.gather(j) == p
    nxt = pl.min_horizontal(j + 1, x.len() - 1)
    return pl.when(exact).then((x.gather(j) + x.gather(nxt)) / 2).otherwise(x.gather(j)).first()


def stats(lf, keys):
    x, w = pl.col("income"), pl.col("weight")
    thr = pl.col("median").first()
    poor = x < 0.6 * thr
    return lf.group_by(keys + ["period"]).agg(
        n=pl.len(),
        arpr=100 * w.filter(poor).sum() / w.sum(),
        arpr40=100 * w.filter(x < 0.4 * thr).sum() / w.sum(),
        arpr50=100 * w.filter(x < 0.5 * thr).sum() / w.sum(),
        arpr70=100 * w.filter(x < 0.7 * thr).sum() / w.sum(),
        gini=100 * ((2 * (w * x * w.cum_sum()).sum() - (w * w * x).sum()) / (w.sum() * (w * x).sum()) - 1),
        q20=wquantile(x, w, 0.2),
        q80=wquantile(x, w, 0.8),
        poor_median=wquantile(x.filter(poor), w.filter(poor), 0.5),
        thr=0.6 * thr,
        top=(w * x).filter(x > wquantile(x, w, 0.8)).sum(),
        bottom=(w * x).filter(x <= wquantile(x, w, 0.2)).sum(),
    ).with_columns(
        qsr=pl.col("top") / pl.col("bottom"),
        rmpg=100 * (pl.col("thr") - pl.col("poor_median")) / pl.col("thr"),
    )


def main(path):
    start = time.perf_counter()
    df = pl.read_parquet(path).sort("income", maintain_order=True)
    national = df.group_by("period").agg(median=wquantile(pl.col("income"), pl.col("weight"), 0.5))
    df = df.join(national, on="period")
    band_exprs = [
        pl.when((pl.col("age") >= lo) & (True if hi is None else pl.col("age") <= hi))
        .then(pl.lit(f"{lo}-{hi}" if hi is not None else f"{lo}+"))
        for lo, hi in BANDS
    ]
    with_bands = df.with_columns(age_group=pl.concat_list(band_exprs).list.drop_nulls()).explode("age_group")
    lfs = [stats(df.lazy(), [])]
    for keys in BREAKDOWNS:
        base = with_bands if "age_group" in keys else df
        lfs.append(stats(base.lazy(), keys))
    out = pl.collect_all(lfs)
    if len(sys.argv) > 2 and sys.argv[2] == "--show":
        print(out[0].select("n", "arpr", "arpr40", "qsr", "gini", "rmpg", "thr"))
    values = sum(f.height for f in out) * 8
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"python-polars values={values} seconds={seconds:.3f} peak_mb={peak:.0f}")


if __name__ == "__main__":
    main(sys.argv[1])
