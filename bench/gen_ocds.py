"""Writes an OCDS 1.1 release package of about N megabytes (seeded): processes of two to three
releases each (tender, award, contract), in date order or not, with parties, tender items and
award values, for measuring how reading a package grows with its size.
Usage: python3 bench/gen_ocds.py MB OUT.json"""
import json, random, sys

mb, out = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(7)
buyers = [("NL-GEM-%d" % i, "Gemeente %d" % i) for i in range(40)]
with open(out, "w") as f:
    f.write('{"uri": "https://example.org/bench.json", "version": "1.1", '
            '"publishedDate": "2024-01-01T00:00:00Z", "releases": [\n')
    written, i, first = 0, 0, True
    while written < mb * 1_000_000:
        i += 1
        ocid = "ocds-bench-%07d" % i
        bid, bname = buyers[i % len(buyers)]
        y = 2019 + i % 5
        items = [{"id": str(k), "description": "Item %d of process %d, services for the city" % (k, i),
                  "classification": {"scheme": "CPV", "id": "%08d" % rnd.randrange(10**8)},
                  "quantity": rnd.randrange(1, 50), "unit": {"name": "unit"}} for k in range(4)]
        tender = {"ocid": ocid, "id": ocid + "-t", "date": "%d-01-15T00:00:00Z" % y, "tag": ["tender"],
                  "initiationType": "tender",
                  "parties": [{"id": bid, "name": bname, "roles": ["buyer"]}],
                  "buyer": {"id": bid, "name": bname},
                  "tender": {"id": ocid + "-t", "title": "Tender %d" % i, "items": items,
                             "value": {"amount": round(rnd.uniform(1e3, 1e6), 2), "currency": "EUR"}}}
        awards = [{"id": str(a), "date": "%d-03-%02d" % (y, 1 + a), "status": "active",
                   "value": {"amount": round(rnd.uniform(1e3, 5e5), 2), "currency": "EUR" if a % 5 else "PLN"},
                   "suppliers": [{"id": "NL-KVK-%06d" % rnd.randrange(10**6), "name": "Supplier %d" % rnd.randrange(5000)}]}
                  for a in range(1, 1 + rnd.randrange(1, 4))]
        award = {"ocid": ocid, "id": ocid + "-a", "date": "%d-03-20T00:00:00Z" % y, "tag": ["award"],
                 "awards": awards}
        releases = [tender, award]
        if i % 3 == 0:  # a contract release, and the package out of date order
            releases.append({"ocid": ocid, "id": ocid + "-c", "date": "%d-04-01T00:00:00Z" % y,
                             "tag": ["contract"], "contracts": [{"id": ocid + "-c1", "awardID": "1",
                             "dateSigned": "%d-04-01" % y}]})
            releases.reverse()
        for r in releases:
            line = ("" if first else ",\n") + json.dumps(r)
            first = False
            f.write(line)
            written += len(line)
    f.write("\n]}\n")
print(f"{i} processes -> {out}")
