//! Spreadsheets (XLSX, ODS, XLS) with `calamine`: the first sheet, or the one `sheet` names;
//! the first row with a cell in it is the header, and each later row is a row of the source,
//! numbered as the spreadsheet numbers it. Cells become the text a CSV export would hold:
//! numbers as the shortest decimal that reads back the same, dates as ISO 8601.

use std::io::Cursor;

use calamine::{open_workbook_auto_from_rs, Data, Reader};

use super::{records, IngestError, RawTable};
use crate::config::{nearest, Source};

/// Whether the bytes are a spreadsheet: a ZIP container (XLSX, ODS) or an OLE one (XLS).
pub fn is_spreadsheet(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

pub fn read(source: &Source, bytes: &[u8]) -> Result<RawTable, IngestError> {
    let unreadable = |why: String| IngestError::parse(source, 1, why);
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|e| unreadable(format!("not a spreadsheet cityimpact can read: {e}")))?;
    let names = book.sheet_names();
    let name = match &source.sheet {
        Some(s) => names.iter().find(|n| *n == s).cloned().ok_or_else(|| {
            let near = nearest(s, names.iter().map(String::as_str))
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            unreadable(format!(
                "has no sheet `{s}`; {near}its sheets: {}",
                names.join(", ")
            ))
        })?,
        None => names
            .first()
            .cloned()
            .ok_or_else(|| unreadable("the workbook has no sheet".into()))?,
    };
    let range = book
        .worksheet_range(&name)
        .map_err(|e| unreadable(format!("cannot read sheet `{name}`: {e}")))?;
    // Rows as the spreadsheet numbers them: the used range may start below row 1.
    let first_row = range.start().map_or(0, |(r, _)| r as u64) + 1;
    let mut rows = range
        .rows()
        .enumerate()
        .map(|(i, cells)| (first_row + i as u64, cells))
        .filter(|(_, cells)| cells.iter().any(|c| !matches!(c, Data::Empty)));
    let Some((_, header)) = rows.next() else {
        return Err(IngestError::NoHeader {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
        });
    };
    let header: Vec<String> = header
        .iter()
        .map(|c| text(c).unwrap_or_default().trim().to_string())
        .collect();
    let rows = rows.map(|(line, cells)| Ok((line, cells.iter().map(text).collect())));
    records::assemble(source, &header, rows, bytes.len() as u64)
}

/// A cell as text; `None` for an empty one.
fn text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(x) => Some(number(*x)),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) if d.is_datetime() => {
            let (y, m, day, h, min, s, ms) = d.to_ymd_hms_milli();
            Some(match (h, min, s, ms) {
                (0, 0, 0, 0) => format!("{y:04}-{m:02}-{day:02}"),
                _ => format!("{y:04}-{m:02}-{day:02}T{h:02}:{min:02}:{s:02}"),
            })
        }
        Data::DateTime(d) => Some(number(d.as_f64())),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => Some(format!("#{e:?}")),
    }
}

/// 12000.0 as `12000`, 8500.5 as `8500.5`: what the spreadsheet shows, without a float's
/// trailing `.0`.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_csv_export_writes_them() {
        assert_eq!(number(12000.0), "12000");
        assert_eq!(number(8500.5), "8500.5");
        assert_eq!(number(-0.25), "-0.25");
        assert_eq!(text(&Data::Empty), None);
        assert_eq!(text(&Data::Int(7)).as_deref(), Some("7"));
    }
}
