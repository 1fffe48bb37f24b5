"""Writes the sample data set for pipelines/sample.toml.

Every number here is INVENTED: drawn from fixed random seeds so that the files are
reproducible, and shaped to look like the real thing (income survey records, labour
statistics, project records with mixed financing, procurement, GHG inventories). Do not
cite them. Run from the project root: python3 sample-data/generate.py
"""
import csv
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
YEARS = range(2019, 2024)

# city code, city name, country, currency, population (invented, order of magnitude real),
# districts: (code, name, share of population, income factor, treated)
CITIES = [
    ("NL_Amersfoort", "Amersfoort", "NL", "EUR", 158000, 19.0, [
        ("NL_AMF_Centrum", "Centrum", 0.22, 1.05, False),
        ("NL_AMF_Noord", "Noord", 0.41, 0.82, True),
        ("NL_AMF_Vathorst", "Vathorst", 0.37, 1.12, False),
    ]),
    ("PL_Gdansk", "Gdańsk", "PL", "PLN", 470000, 11.0, [
        ("PL_GDN_Srodmiescie", "Śródmieście", 0.18, 0.95, False),
        ("PL_GDN_Orunia", "Orunia-Św. Wojciech-Lipce", 0.12, 0.74, True),
        ("PL_GDN_Oliwa", "Oliwa", 0.70, 1.08, False),
    ]),
    ("PT_Braga", "Braga", "PT", "EUR", 193000, 10.5, [
        ("PT_BRG_Centro", "Centro", 0.30, 1.02, False),
        ("PT_BRG_Nogueiro", "Nogueiró e Tenões", 0.25, 0.80, True),
        ("PT_BRG_Real", "Real, Dume e Semelhe", 0.45, 1.05, False),
    ]),
]


# The first year of each treated district's programme (staggered, for the evaluation).
TREATED_FROM = {"NL_AMF_Noord": 2021, "PL_GDN_Orunia": 2021, "PT_BRG_Nogueiro": 2022}


def write(name, header, rows):
    with open(os.path.join(HERE, name), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def areas():
    rows = []
    for code, name, country, _, pop, green_m2_per_person, districts in CITIES:
        for y in YEARS:
            growth = 1 + 0.004 * (y - 2019)
            rows.append([code, name, "city", country, y, round(pop * growth), round(pop * growth * green_m2_per_person), "", ""])
            for dcode, dname, share, _, treated in districts:
                dpop = round(pop * share * growth)
                green = round(dpop * green_m2_per_person * (0.6 if treated else 1.1))
                rows.append([dcode, dname, "district", code, y, dpop, green, "true" if treated else "false", TREATED_FROM.get(dcode, "")])
    write("areas.csv", ["area_code", "name", "level", "parent", "year", "population", "green_space_m2", "treated", "treated_from"], rows)


def microdata():
    rnd = random.Random(2019)
    rows = []
    hh = 0
    for code, _, country, _, _, _, districts in CITIES:
        base = {"NL_Amersfoort": 27000, "PL_Gdansk": 11000, "PT_Braga": 12500}[code]
        for y in YEARS:
            for dcode, _, _, factor, treated in districts:
                # Treated districts improve a little faster after 2020.
                trend = 1 + 0.02 * (y - 2019) + (0.015 * max(0, y - 2020) if treated else 0)
                for _ in range(45):
                    hh += 1
                    size = rnd.choice([1, 1, 2, 2, 2, 3, 3, 4, 5])
                    ages = [rnd.randint(18, 85)] + [rnd.randint(0, 80) for _ in range(size - 1)]
                    eq = base * factor * trend * math.exp(rnd.gauss(0, 0.5))
                    weight = round(rnd.uniform(40, 160), 2)
                    # Household-level deprivation (items lacked of 13) and work intensity;
                    # poorer households lack more and work less.
                    poorer = eq < base * 0.7
                    dep = min(13, max(0, round(rnd.gauss(5 if poorer else 1.5, 2.5))))
                    wi = round(min(1.0, max(0.0, rnd.gauss(0.35 if poorer else 0.75, 0.3))), 2)
                    if all(a >= 65 for a in ages):
                        wi = ""  # households of pensioners have no work intensity
                    for k, age in enumerate(ages):
                        sex = rnd.choice(["1", "2"])
                        rows.append([y, country, hh, f"{hh}{k + 1:02d}", dcode, age, sex, round(eq, 2), weight, dep, wi])
    # Rows as real files have them: a missing income and a zero weight (both rejected, with reasons).
    rows.append([2021, "PT", hh + 1, f"{hh + 1}01", "PT_BRG_Centro", 44, "2", "", 88.5, 2, 0.5])
    rows.append([2022, "NL", hh + 2, f"{hh + 2}01", "NL_AMF_Noord", 37, "1", 21000.0, 0, 0, 1.0])
    write("silc.csv", ["year", "country", "hh_id", "person_id", "district", "age", "sex", "eq_income", "weight", "dep_items", "work_int"], rows)


def labour():
    rnd = random.Random(37120)
    rows = []
    for code, _, _, _, _, _, _ in CITIES:
        base = {"NL_Amersfoort": 3.6, "PL_Gdansk": 4.1, "PT_Braga": 6.8}[code]
        for y in YEARS:
            bump = 1.2 if y == 2020 else 0.0
            u = round(base + bump - 0.2 * (y - 2019) + rnd.uniform(-0.3, 0.3), 1)
            flag = "p" if y == 2023 else ""
            rows.append(["URB_CLMA", code, y, "EC1020I", u, flag])
            rows.append(["URB_CLMA", code, y, "EC1168I", round(u * 2.3, 1), flag])
            # Long-term unemployment is published as counts; cityimpact computes the rate.
            force = {"NL_Amersfoort": 82000, "PL_Gdansk": 241000, "PT_Braga": 96000}[code]
            rows.append(["URB_CLMA", code, y, "LTU_PERS", round(force * u / 100 * rnd.uniform(0.3, 0.45)), flag])
            rows.append(["URB_CLMA", code, y, "LF_PERS", force + 500 * (y - 2019), flag])
    # District unemployment rates (a separate generator, so the city rows stay as they were):
    # poorer districts have more unemployment, and a treated district's rate falls by 0.4
    # points a year from its programme's first year on.
    drnd = random.Random(2021)
    for code, _, _, _, _, _, districts in CITIES:
        base = {"NL_Amersfoort": 3.6, "PL_Gdansk": 4.1, "PT_Braga": 6.8}[code]
        for dcode, _, _, factor, _ in districts:
            for y in YEARS:
                start = TREATED_FROM.get(dcode)
                effect = -0.4 * (y - start + 1) if start and y >= start else 0.0
                u = base / factor - 0.2 * (y - 2019) + effect + drnd.uniform(-0.3, 0.3)
                rows.append(["URB_CLMA", dcode, y, "EC1020I", round(u, 1), "p" if y == 2023 else ""])
    write("labour.csv", ["DATAFLOW", "cities", "TIME_PERIOD", "indic_ur", "OBS_VALUE", "OBS_FLAG"], rows)


THEMES = [
    ("Energy cooperative rooftop solar", "energy", True),
    ("Social supermarket", "food", False),
    ("Youth employment workshop", "employment", False),
    ("Retrofit of social housing", "housing", True),
    ("Repair café network", "circular", True),
    ("Community care circle", "care", False),
    ("Cargo-bike logistics", "mobility", True),
    ("Digital skills for seniors", "inclusion", False),
]
MIXES = [
    [("public", 0.6), ("eu_fund", 0.4)],
    [("public", 0.5), ("crowdfunding", 0.2), ("impact_investment", 0.3)],
    [("eu_fund", 0.5), ("philanthropy", 0.3), ("private", 0.2)],
    [("public", 1.0)],
    [("public", 0.35), ("crowdfunding", 0.15), ("philanthropy", 0.5)],
]


def projects():
    rnd = random.Random(360)
    rows = []
    pid = 0
    for code, _, _, cur, _, _, districts in CITIES:
        for y in YEARS:
            for dcode, _, _, _, treated in districts:
                for _ in range(2 if treated else 1):
                    pid += 1
                    title, theme, green = rnd.choice(THEMES)
                    total = round(rnd.uniform(40, 600)) * 1000
                    if cur == "PLN":
                        total *= 4
                    start = f"{y}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
                    end = f"{y + rnd.randint(1, 3)}-{rnd.randint(1, 12):02d}-28"
                    beneficiaries = rnd.randint(30, 2500) if rnd.random() > 0.1 else ""
                    co2 = round(total / (1 if cur == "EUR" else 4) / rnd.uniform(150, 900), 1) if green else ""
                    for source, share in rnd.choice(MIXES):
                        rows.append([f"SI-{pid:04d}", title, dcode, source, round(total * share, 2), cur, start, end, beneficiaries, co2, theme])
    # A row in a currency without a rate: rejected, and the reason names the rate to add.
    rows.append(["SI-9999", "Study visit", "NL_AMF_Centrum", "public", 1200, "GBP", "2022-05-01", "2022-06-01", 12, "", "exchange"])
    write("projects.csv", ["project_id", "title", "district", "funding_source", "amount", "currency", "start_date", "end_date", "beneficiaries", "co2e_avoided_t", "theme"], rows)


OUTCOMES = {
    "employment": [("people into sustained work", 9000, 0.25, 0.05, 0.30, 0.30, 3)],
    "food": [("households with food security", 1200, 0.30, 0.0, 0.40, 0.50, 2)],
    "housing": [("homes out of energy poverty", 900, 0.15, 0.0, 0.20, 0.10, 5),
                ("tonnes CO2e avoided, social cost of carbon", 80, 0.10, 0.0, 0.20, 0.05, 5)],
    "energy": [("tonnes CO2e avoided, social cost of carbon", 80, 0.10, 0.0, 0.20, 0.05, 5)],
    "care": [("older people less isolated", 1500, 0.20, 0.0, 0.30, 0.40, 2)],
    "inclusion": [("seniors using digital services", 400, 0.35, 0.0, 0.25, 0.30, 2)],
}


def outcomes():
    """SROI outcomes for most projects: quantity, financial proxy (EUR per unit), and the
    deadweight, displacement, attribution, drop-off and duration of the SROI guide."""
    rnd = random.Random(2012)
    seen = set()
    rows = []
    with open(os.path.join(HERE, "projects.csv"), encoding="utf-8") as f:
        for r in csv.DictReader(f):
            pid = r["project_id"]
            if pid in seen or pid == "SI-9999":
                continue
            seen.add(pid)
            for name, proxy, dw, disp, attr, drop, years in OUTCOMES.get(r["theme"], []):
                if "CO2e" in name:
                    if not r["co2e_avoided_t"]:
                        continue
                    q = float(r["co2e_avoided_t"])
                else:
                    q = rnd.randint(5, 120)
                rows.append([pid, name, q, proxy, dw, disp, attr, drop, years])
    write("outcomes.csv", ["project_id", "outcome", "quantity", "proxy_eur", "deadweight", "displacement", "attribution", "drop_off", "duration_years"], rows)


def procurement():
    rnd = random.Random(2014)
    rows = []
    n = 0
    for code, name, _, cur, _, _, _ in CITIES:
        social = {"NL_Amersfoort": 0.12, "PL_Gdansk": 0.05, "PT_Braga": 0.08}[code]
        for y in YEARS:
            for _ in range(12):
                n += 1
                kind = "social_enterprise" if rnd.random() < social + 0.01 * (y - 2019) else rnd.choice(["sme", "other"])
                amount = round(rnd.uniform(5, 400)) * 1000 * (4 if cur == "PLN" else 1)
                rows.append([f"{code}-{y}-{n:04d}", f"City of {name}", f"Supplier {rnd.randint(1, 60):02d}", kind, amount, cur, f"{y}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}", code])
    write("procurement.csv", ["contract_id", "buyer", "supplier", "supplier_type", "value", "currency", "award_date", "city"], rows)


def emissions():
    rnd = random.Random(2014)
    rows = []
    # (sector, scope, share of the city's total)
    parts = [
        ("stationary_energy", 1, 0.30), ("stationary_energy", 2, 0.22), ("stationary_energy", 3, 0.05),
        ("transportation", 1, 0.25), ("transportation", 2, 0.01), ("transportation", 3, 0.04),
        ("waste", 1, 0.03), ("waste", 3, 0.02), ("ippu", 1, 0.05), ("afolu", 1, 0.03),
    ]
    for code, _, _, _, pop, _, _ in CITIES:
        per_capita = {"NL_Amersfoort": 5.2, "PL_Gdansk": 7.9, "PT_Braga": 4.4}[code]
        for y in YEARS:
            total = pop * per_capita * (1 - 0.03 * (y - 2019)) * (0.93 if y == 2020 else 1)
            for sector, scope, share in parts:
                rows.append([code, y, sector, scope, round(total * share * rnd.uniform(0.95, 1.05), 1)])
    write("emissions.csv", ["city", "year", "gpc_sector", "scope", "t_co2e"], rows)


if __name__ == "__main__":
    areas()
    microdata()
    labour()
    projects()
    outcomes()
    procurement()
    emissions()
