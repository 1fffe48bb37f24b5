//! The run's charts as the report's figures: SVG inline, sharp in print; but an SVG of many
//! thousand points would bloat the report, so above a size its PNG stands in.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::html::{base64, esc};

/// The largest SVG written into the report as it is; a larger chart comes as its PNG.
const MAX_INLINE_SVG: u64 = 1 << 20;

/// The run's chart files, and which of their SVGs go into the report as they are.
pub(super) struct Figures<'a> {
    charts: &'a [PathBuf],
    inline_svg: BTreeSet<&'a Path>,
}

impl<'a> Figures<'a> {
    pub(super) fn new(charts: &'a [PathBuf]) -> Self {
        let inline_svg = charts
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "svg"))
            .filter(|p| {
                let small = std::fs::metadata(p).is_ok_and(|m| m.len() <= MAX_INLINE_SVG);
                small || !charts.contains(&p.with_extension("png"))
            })
            .map(|p| p.as_path())
            .collect();
        Figures { charts, inline_svg }
    }

    /// The charts' names without their extension.
    pub(super) fn stems(&self) -> BTreeSet<String> {
        self.charts
            .iter()
            .filter_map(|p| p.file_stem()?.to_str().map(String::from))
            .collect()
    }

    /// The charts whose file names start with `prefix`, as figures: inline SVG, or the PNG
    /// where the SVG is too large.
    pub(super) fn of(&self, prefix: &str) -> String {
        let mut figures = String::new();
        for chart in self.charts {
            let name = chart.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            if !name.starts_with(prefix) {
                continue;
            }
            let ext = chart.extension().and_then(|e| e.to_str()).unwrap_or("");
            let use_svg = self
                .inline_svg
                .contains(chart.with_extension("svg").as_path());
            if (ext == "png" && use_svg) || (ext == "svg" && !use_svg) {
                continue;
            }
            let Ok(bytes) = std::fs::read(chart) else {
                continue;
            };
            match ext {
                "svg" => {
                    let text = String::from_utf8_lossy(&bytes);
                    // Drop the XML declaration, which is not allowed inside HTML.
                    let body = text.find("<svg").map_or(&text[..], |i| &text[i..]);
                    let _ = writeln!(
                        figures,
                        "<figure id=\"chart-{}\">{body}</figure>",
                        esc(name)
                    );
                }
                _ => {
                    let _ = writeln!(
                        figures,
                        "<figure id=\"chart-{}\"><img alt=\"{}\" src=\"data:image/png;base64,{}\"></figure>",
                        esc(name),
                        esc(name),
                        base64(&bytes)
                    );
                }
            }
        }
        figures
    }
}
