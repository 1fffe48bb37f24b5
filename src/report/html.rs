//! Writing HTML: escaping, anchors, data URIs, the report's style sheet.

/// A fragment-safe version of an id, for anchors.
pub(super) fn slug(s: &str) -> String {
    crate::charts::slug(s)
}

/// Escapes text for HTML.
pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Standard base64 (RFC 4648), for PNG data URIs.
pub(super) fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for (i, shift) in [18, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(T[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The report's style sheet, screen and print.
pub(super) const STYLE: &str = "
body { font-family: 'DejaVu Sans', Verdana, sans-serif; color: #212121; max-width: 1200px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.8em; margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #0072b2; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-top: 1.6em; page-break-after: avoid; }
.meta { color: #6e6e6e; } figure { margin: 1.5em 0; page-break-inside: avoid; } figure svg, figure img { width: 100%; height: auto; }
ul.findings { padding-left: 1.2em; } ul.findings li { margin: 0.6em 0; } ul.findings a { white-space: nowrap; font-size: 0.9em; }
ul.findings a::before { content: '→ '; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; page-break-inside: auto; } th, td { border-bottom: 1px solid #e1e1e1; padding: 0.3em 0.6em; text-align: right; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f4f4; font-weight: 600; } tr { page-break-inside: avoid; }
table.values { width: 100%; } table.values th { width: 13%; } table.values th:first-child { width: auto; }
table.transposed th[scope=row] { background: none; font-weight: normal; text-align: left; }
td[title], th[title] { cursor: help; } small { color: #555; font-weight: normal; }
dt { font-weight: bold; margin-top: 0.8em; } dd { margin-left: 1.2em; } code { font-size: 0.9em; }
.scroll { overflow-x: auto; max-width: 100%; }
@media print { @page { size: A4; margin: 14mm 12mm; } body { margin: 0; max-width: none; font-size: 10pt; } h2 { page-break-before: always; }
  h2#findings { page-break-before: avoid; } a { color: inherit; text-decoration: none; }
  .scroll { overflow: visible; } table { width: 100%; table-layout: fixed; font-size: 7.5pt; } th, td { padding: 0.2em 0.3em; overflow-wrap: anywhere; hyphens: auto; } }
";

/// A definition as a sentence: a pipeline's own may be written without the full stop.
pub(super) fn sentence(s: &str) -> String {
    let s = s.trim();
    match s.ends_with(['.', '!', '?']) {
        true => s.to_string(),
        false => format!("{s}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        // RFC 4648, section 10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;"
        );
    }
}
