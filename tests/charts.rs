//! Every chart kind: its size, its title and axis texts in the SVG, and nothing drawn outside
//! the canvas. Then `cityimpact chart` re-draws from the outputs alone, and the report holds
//! everything in one file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

fn sample() -> &'static Path {
    static OUT: OnceLock<PathBuf> = OnceLock::new();
    run_once(&OUT, "pipelines/sample.toml", "sample")
}

/// One SVG element: its name, attributes and text.
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
}

impl Element {
    fn num(&self, key: &str) -> Option<f64> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
    }

    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A small reader for the flat SVG plotters writes: one element per tag, attributes quoted.
fn elements(svg: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with('/') || rest.starts_with('?') {
            continue;
        }
        let end = rest.find('>').unwrap();
        let tag = &rest[..end];
        let name: String = tag.chars().take_while(|c| c.is_alphanumeric()).collect();
        let mut attrs = Vec::new();
        let mut a = &tag[name.len()..];
        while let Some(eq) = a.find("=\"") {
            let key = a[..eq].trim().to_string();
            let close = a[eq + 2..].find('"').unwrap();
            attrs.push((key, a[eq + 2..eq + 2 + close].to_string()));
            a = &a[eq + 2 + close + 1..];
        }
        let text = if name == "text" {
            rest[end + 1..rest.find("</text>").unwrap()]
                .trim()
                .to_string()
        } else {
            String::new()
        };
        out.push(Element { name, attrs, text });
        rest = &rest[end + 1..];
    }
    out
}

/// Asserts that an SVG chart has the size, texts and bounds it should.
fn check(path: &Path, size: (f64, f64), texts: &[&str]) {
    let svg = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let els = elements(&svg);
    let root = &els[0];
    assert_eq!(root.name, "svg");
    assert_eq!(
        (root.num("width").unwrap(), root.num("height").unwrap()),
        size,
        "{}",
        path.display()
    );
    let (w, h) = size;
    let inside = |x: f64, y: f64, what: &str| {
        assert!(
            (-1.0..=w + 1.0).contains(&x) && (-1.0..=h + 1.0).contains(&y),
            "{}: {what} at ({x}, {y}) is off the canvas",
            path.display()
        );
    };
    for e in &els[1..] {
        for (kx, ky) in [("x", "y"), ("x1", "y1"), ("x2", "y2"), ("cx", "cy")] {
            if let (Some(x), Some(y)) = (e.num(kx), e.num(ky)) {
                inside(x, y, &e.name);
            }
        }
        if let Some(points) = e.attr("points") {
            for p in points.split_whitespace() {
                let (x, y) = p.split_once(',').unwrap();
                inside(x.parse().unwrap(), y.parse().unwrap(), &e.name);
            }
        }
        if e.name == "rect" {
            let (x, y, rw, rh) = (
                e.num("x").unwrap(),
                e.num("y").unwrap(),
                e.num("width").unwrap(),
                e.num("height").unwrap(),
            );
            inside(x + rw, y + rh, "rect corner");
        }
        if e.name == "text" && e.attr("transform").is_none() {
            // DejaVu Sans averages under 0.62 em per character.
            let width = e.text.chars().count() as f64 * 0.62 * e.num("font-size").unwrap();
            let x = e.num("x").unwrap();
            let (left, right) = match e.attr("text-anchor") {
                Some("middle") => (x - width / 2.0, x + width / 2.0),
                Some("end") => (x - width, x),
                _ => (x, x + width),
            };
            assert!(
                left >= -1.0 && right <= w + 1.0,
                "{}: text {:?} runs off the canvas ({left}..{right})",
                path.display(),
                e.text
            );
        }
    }
    // No two labels overlap: their boxes, a little inside the glyphs' extent so that
    // touching neighbours (ticks one step apart) pass.
    let boxes: Vec<(&Element, [f64; 4])> = els
        .iter()
        .filter(|e| e.name == "text" && !e.text.trim().is_empty())
        .filter_map(|e| Some((e, text_box(e)?)))
        .collect();
    for (i, (a, ba)) in boxes.iter().enumerate() {
        for (b, bb) in &boxes[i + 1..] {
            assert!(
                !overlaps(ba, bb),
                "{}: labels {:?} {ba:?} and {:?} {bb:?} overlap",
                path.display(),
                a.text,
                b.text
            );
        }
    }
    let all_text: Vec<&str> = els
        .iter()
        .filter(|e| e.name == "text")
        .map(|e| e.text.as_str())
        .collect();
    for t in texts {
        assert!(
            all_text.iter().any(|x| x.contains(t)),
            "{}: no text {t:?} in {all_text:?}",
            path.display()
        );
    }
}

/// A label's box [left, top, right, bottom] in pixels, from its anchor, font size and the
/// vertical offset plotters writes (`dy`); None for rotated labels (the y axis's title).
fn text_box(e: &Element) -> Option<[f64; 4]> {
    if e.attr("transform").is_some() {
        return None;
    }
    let size = e.num("font-size")?;
    let (x, y) = (e.num("x")?, e.num("y")?);
    // 0.55 em per character, ascent 0.72 em, descent 0.2 em: slightly inside DejaVu Sans's
    // extent, so that only real collisions count.
    let width = e.text.chars().count() as f64 * 0.55 * size;
    let (left, right) = match e.attr("text-anchor") {
        Some("middle") => (x - width / 2.0, x + width / 2.0),
        Some("end") => (x - width, x),
        _ => (x, x + width),
    };
    let baseline = match e.attr("dy") {
        Some("0.76em") => y + 0.76 * size,
        Some("0.5ex") => y + 0.27 * size,
        Some("-0.5ex") => y - 0.27 * size,
        _ => y,
    };
    Some([left, baseline - 0.72 * size, right, baseline + 0.2 * size])
}

fn overlaps(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] < b[2] - 0.5 && b[0] < a[2] - 0.5 && a[1] < b[3] - 0.5 && b[1] < a[3] - 0.5
}

#[test]
fn no_chart_of_the_sample_draws_off_its_canvas_or_overlaps_its_labels() {
    // The visual regression test: every chart the sample pipeline draws, read as SVG.
    let c = sample().join("charts");
    let mut seen = 0;
    for entry in std::fs::read_dir(&c).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "svg") {
            check(&p, (1200.0, 750.0), &[]);
            seen += 1;
        }
    }
    assert!(seen >= 19, "{seen} charts");
    // In the ranked bars, the value labels never sit on a bar: each label starts right of its
    // bar's end (and of the interval's end, where there is one).
    for name in [
        "exclusion-arpr-ranked.svg",
        "exclusion-unemployment_rate-ranked.svg",
        "spending-spend_per_capita-ranked.svg",
        "climate-ghg_per_capita-ranked.svg",
    ] {
        let els = elements(&std::fs::read_to_string(c.join(name)).unwrap());
        let bars: Vec<[f64; 4]> = els
            .iter()
            .filter(|e| e.name == "rect")
            .skip(1) // the background
            .map(|e| {
                let (x, y) = (e.num("x").unwrap(), e.num("y").unwrap());
                [
                    x,
                    y,
                    x + e.num("width").unwrap(),
                    y + e.num("height").unwrap(),
                ]
            })
            .collect();
        assert!(bars.len() >= 3, "{name}");
        let values = els.iter().filter(|e| {
            e.name == "text"
                && e.text.trim().parse::<f64>().is_ok()
                && e.attr("text-anchor") == Some("start")
        });
        let mut labels = 0;
        for v in values {
            let b = text_box(v).unwrap();
            for bar in &bars {
                assert!(
                    !overlaps(&b, bar),
                    "{name}: label {:?} {b:?} on a bar {bar:?}",
                    v.text
                );
            }
            labels += 1;
        }
        assert_eq!(labels, bars.len(), "{name}: one value label per bar");
    }
}

#[test]
fn every_chart_kind_has_its_size_texts_and_bounds() {
    let c = sample().join("charts");
    let size = (1200.0, 750.0);
    check(
        &c.join("exclusion-arpr-timeseries.svg"),
        size,
        &[
            "At-risk-of-poverty rate",
            "2019-2023",
            "Year",
            "%",
            "comparison areas",
            // Areas by the name the areas source gives, not by code (NL_AMF_Noord).
            "Noord",
        ],
    );
    check(
        &c.join("exclusion-arpr-ranked.svg"),
        size,
        &["At-risk-of-poverty rate, 2023", "%", "Śródmieście"],
    );
    check(
        &c.join("spending-spend_per_capita-timeseries.svg"),
        size,
        &["Project spending per inhabitant", "EUR per person", "Year"],
    );
    check(
        &c.join("spending-financing-mix.svg"),
        size,
        &[
            "Financing mix of projects",
            "% of the amount with a known funding source",
            "Public budget",
        ],
    );
    check(
        &c.join("climate-ghg-by-sector-PL_Gdansk.svg"),
        size,
        &[
            "Greenhouse gas emissions by sector, Gdańsk",
            "tCO2e",
            "Stationary energy",
            "Year",
        ],
    );
    check(
        &c.join("spending-cost-per-beneficiary-scatter.svg"),
        size,
        &[
            "Cost per beneficiary",
            "Beneficiaries (persons",
            "EUR per beneficiary",
        ],
    );
    check(
        &c.join("climate-ghg_per_capita-ranked.svg"),
        size,
        &[
            "Greenhouse gas emissions per inhabitant, 2023",
            "tCO2e per person",
        ],
    );
    // Every SVG has a PNG twin of the same size.
    for entry in std::fs::read_dir(&c).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "svg") {
            let png = std::fs::read(p.with_extension("png")).unwrap();
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            // The IHDR chunk holds width and height, big-endian.
            assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 1200);
            assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 750);
        }
    }
}

#[test]
fn long_area_names_still_fit() {
    // Give an area a long name in a copy of the sample and draw it narrow.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for f in std::fs::read_dir(root().join("sample-data")).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "csv") {
            let text = std::fs::read_to_string(&f).unwrap().replace(
                "Orunia-Św. Wojciech-Lipce",
                "Orunia-Święty Wojciech-Lipce (dzielnica)",
            );
            std::fs::write(data.join(f.file_name().unwrap()), text).unwrap();
        }
    }
    let text = std::fs::read_to_string(root().join("pipelines/sample.toml"))
        .unwrap()
        .replace("../sample-data/", &format!("{}/", data.display()))
        .replace(
            "[checks]",
            "[charts]\nwidth = 900\nheight = 600\nformats = [\"svg\"]\n\n[checks]",
        );
    std::fs::write(tmp.path().join("p.toml"), text).unwrap();
    run_ok(
        tmp.path().join("p.toml").to_str().unwrap(),
        &tmp.path().join("out"),
    );
    let c = tmp.path().join("out/charts");
    check(
        &c.join("exclusion-arpr-ranked.svg"),
        (900.0, 600.0),
        &["Orunia-Święty Wojciech-Lipce (dzielnica)"],
    );
    check(
        &c.join("exclusion-arpr-timeseries.svg"),
        (900.0, 600.0),
        &["Orunia-Święty Wojciech-Lipce (dzielnica)"],
    );
    check(
        &c.join("spending-financing-mix.svg"),
        (900.0, 600.0),
        &["Orunia-Święty Wojciech-Lipce (dzielnica)"],
    );
    assert!(
        !c.join("exclusion-arpr-ranked.png").exists(),
        "formats = [\"svg\"] draws no PNG"
    );
}

#[test]
fn chart_redraws_from_the_outputs_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("copy");
    std::fs::create_dir(&out).unwrap();
    // A researcher's copy: the tables and the manifest, no pipeline file, no inputs.
    for f in ["indicators.parquet", "manifest.json"] {
        std::fs::copy(sample().join(f), out.join(f)).unwrap();
    }
    let o = cityimpact(&[
        "chart",
        out.to_str().unwrap(),
        "--format",
        "svg",
        "--width",
        "1600",
        "--height",
        "900",
        "--highlight",
        "PT_BRG_Real",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    check(
        &out.join("charts/exclusion-arpr-timeseries.svg"),
        (1600.0, 900.0),
        &["Real, Dume e Semelhe", "8 comparison areas"],
    );
    assert!(!out.join("charts/exclusion-arpr-timeseries.png").exists());
    // The manifest lists the new charts with hashes that match.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let listed: Vec<&serde_json::Value> = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["path"].as_str().unwrap().starts_with("charts/"))
        .collect();
    assert!(!listed.is_empty());
    for o in listed {
        let bytes = std::fs::read(out.join(o["path"].as_str().unwrap())).unwrap();
        assert_eq!(
            o["blake3"].as_str().unwrap(),
            blake3::hash(&bytes).to_hex().as_str()
        );
    }
    assert_eq!(manifest["charts"]["highlight"][0], "PT_BRG_Real");
    // Nothing is left behind but the outputs.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    // A folder that is not an output folder is refused (exit 2), naming the manifest.
    let o = cityimpact(&["chart", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("manifest.json"), "{}", stderr(&o));
}

#[test]
fn the_report_is_one_self_contained_file() {
    let html = std::fs::read_to_string(sample().join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Charts inline, one figure per chart (SVG preferred over its PNG twin).
    let charts = std::fs::read_dir(sample().join("charts"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "svg")
        })
        .count();
    assert_eq!(html.matches("<figure id=\"chart-").count(), charts);
    // The key findings come first, before any chart, and link to the charts behind them.
    let findings = html.find("<h2 id=\"findings\">Key findings</h2>").unwrap();
    assert!(findings < html.find("<figure").unwrap());
    for link in html[findings..].split("href=\"#").skip(1).take(20) {
        let target = &link[..link.find('"').unwrap()];
        assert!(
            html.contains(&format!("id=\"{target}\"")),
            "a link to #{target}"
        );
    }
    // Nothing is loaded from elsewhere.
    for needle in ["src=\"http", "href=\"http", "<link", "<script"] {
        assert!(!html.contains(needle), "{needle}");
    }
    // Tables of values, the definitions with sources, and the provenance.
    assert!(html.contains("<th>Area</th>") && html.contains("PL_GDN_Orunia"));
    assert!(html.contains("Definitions and sources") && html.contains("EU-SILC 131-rev/04"));
    assert!(html.contains("Provenance") && html.contains("silc.csv"));
    assert!(html.contains("@media print"));
    // Headers name the indicator (its id in the tooltip) with unit and period; wide tables
    // scroll in their box on screen and shrink to the page in print.
    assert!(
        html.contains("<th title=\"arpr\">At-risk-of-poverty rate<br><small>%, 2023</small></th>"),
        "indicator names in the headers"
    );
    assert!(html.contains("<div class=\"scroll\"><table class=\"values"));
    assert!(html.contains("table-layout: fixed"));
    // No table of values is wider than a page: the area and at most six indicators.
    for table in html.split("<table class=\"values").skip(1) {
        let header = &table[..table.find("</tr>").unwrap()];
        assert!(header.matches("<th").count() <= 7, "{header}");
    }
    // Codes are not shown where a name is known: countries too.
    assert!(html.contains("<th title=\"NL\">Netherlands</th>"));
}

#[test]
fn bars_keep_a_readable_thickness_with_few_areas() {
    // Three cities: each bar is at most 44 px thick, not a third of the plot.
    let svg =
        std::fs::read_to_string(sample().join("charts/climate-ghg_per_capita-ranked.svg")).unwrap();
    let heights: Vec<f64> = svg
        .split("<rect ")
        .skip(2) // the background
        .filter_map(|r| {
            let h = r.split("height=\"").nth(1)?.split('"').next()?;
            h.parse().ok()
        })
        .collect();
    assert_eq!(heights.len(), 3, "{heights:?}");
    assert!(
        heights.iter().all(|h| *h <= 44.0 && *h >= 20.0),
        "{heights:?}"
    );
}

/// A copy of the sample's output folder, to change without touching the one other tests read.
fn sample_copy(dir: &Path) -> PathBuf {
    let out = dir.join("copy");
    std::fs::create_dir_all(out.join("charts")).unwrap();
    for e in std::fs::read_dir(sample()).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, out.join(p.file_name().unwrap())).unwrap();
        }
    }
    for e in std::fs::read_dir(sample().join("charts")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, out.join("charts").join(p.file_name().unwrap())).unwrap();
    }
    out
}

#[test]
fn report_pdf_without_chromium_says_how_to_get_it_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sample_copy(tmp.path());
    let before = std::fs::read(out.join("report.html")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cityimpact"))
        .args(["report", out.to_str().unwrap(), "--pdf"])
        .env("CITYIMPACT_CHROMIUM", tmp.path().join("no-such-browser"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("no headless Chromium"), "{e}");
    assert!(e.contains("no-such-browser"), "{e}");
    assert!(e.contains("apt-get install chromium"), "{e}");
    assert!(!out.join("report.pdf").exists());
    assert_eq!(std::fs::read(out.join("report.html")).unwrap(), before);
}

#[test]
fn report_pdf_is_printed_and_listed_in_the_manifest() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let browser = std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n)))
        .find(|p| p.is_file());
    let Some(browser) = browser else {
        eprintln!("SKIPPED: report_pdf_is_printed_and_listed_in_the_manifest needs headless Chromium on PATH (apt-get install chromium)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = sample_copy(tmp.path());
    let o = Command::new(env!("CARGO_BIN_EXE_cityimpact"))
        .args(["report", out.to_str().unwrap(), "--pdf"])
        .env("CITYIMPACT_CHROMIUM", &browser)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let pdf = std::fs::read(out.join("report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert!(pdf.len() > 50_000, "{} bytes", pdf.len());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let entry = manifest["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["path"] == "report.pdf")
        .expect("report.pdf in the manifest");
    assert_eq!(
        entry["blake3"].as_str().unwrap(),
        blake3::hash(&pdf).to_hex().as_str()
    );
    // Nothing is left behind but the outputs.
    assert!(std::fs::read_dir(&out).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
}
