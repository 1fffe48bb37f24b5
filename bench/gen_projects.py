"""Writes a CSV of project records of about N megabytes (seeded), with a few broken rows.
Usage: python3 bench/gen_projects.py MB OUT.csv"""
import random, sys

mb, out = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(1)
sources = ["public", "eu_fund", "crowdfunding", "impact_investment", "philanthropy", "private"]
areas = [f"D{i:03d}" for i in range(200)]
with open(out, "w") as f:
    f.write("id,area,amount,start,end,funding_source,beneficiaries,co2e_avoided_t,currency\n")
    written, i = 0, 0
    while written < mb * 1_000_000:
        i += 1
        y = 2015 + i % 10
        amount = "oops" if i % 100_000 == 0 else f"{rnd.uniform(1000, 900000):.2f}"
        line = f"P{i:09d},{areas[i % 200]},{amount},{y}-03-{1 + i % 28:02d},{y + 1}-02-28,{sources[i % 6]},{i % 900},{(i % 50) * 1.5},{'PLN' if i % 7 == 0 else 'EUR'}\n"
        f.write(line)
        written += len(line)
print(f"{i} rows -> {out}")
