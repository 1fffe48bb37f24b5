//! Eurostat's bulk-download TSV: the first header cell names the dimensions and the time axis
//! (`freq,indic_ur,cities\TIME_PERIOD`), the other header cells are periods, and each cell holds
//! a value with an optional flag (`12.3 p`). `:` is a missing observation: no row, not an
//! error. The result is the long layout of a `city_stats` source: area, period, variable,
//! value, flag.

use super::{IngestError, RawColumn, RawTable, Texts};
use crate::config::{Location, Source};

/// Eurostat's observation flags.
pub const FLAGS: [char; 11] = ['b', 'c', 'd', 'e', 'f', 'n', 'p', 'r', 's', 'u', 'z'];

/// Splits `12.3 p` into the value and its flags; `: c` is a missing value with a flag.
pub fn split_cell(cell: &str) -> (Option<&str>, Option<String>) {
    let cell = cell.trim();
    let (value, flags) = match cell.find(' ') {
        Some(i) => (cell[..i].trim(), cell[i + 1..].trim()),
        None if cell.ends_with(|c: char| FLAGS.contains(&c))
            && cell.len() > 1
            && !cell.starts_with(':') =>
        {
            // `12.3p`: a flag written without the space.
            let i = cell.trim_end_matches(|c: char| FLAGS.contains(&c)).len();
            (&cell[..i], &cell[i..])
        }
        None => (cell, ""),
    };
    let value = (value != ":" && !value.is_empty()).then_some(value);
    let flags = (!flags.is_empty()).then(|| flags.to_string());
    (value, flags)
}

pub fn read(source: &Source, owned: &[u8]) -> Result<RawTable, IngestError> {
    let text =
        std::str::from_utf8(owned.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(owned)).map_err(|e| {
            let line = owned[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            IngestError::Encoding {
                source_name: source.name.clone(),
                location: Location {
                    file: source.resolved.clone(),
                    line,
                    column: 1,
                },
            }
        })?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| IngestError::NoHeader {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
        })?;
    let cells: Vec<&str> = header.split('\t').collect();
    let parse_error = |message: String| IngestError::parse(source, 1, message);
    let (dims, _time) = cells[0].split_once('\\').ok_or_else(|| {
        parse_error(format!(
            "the first header cell `{}` is not Eurostat's `dimensions\\TIME_PERIOD`",
            cells[0]
        ))
    })?;
    let dims: Vec<String> = dims.split(',').map(|d| d.trim().to_string()).collect();
    let periods: Vec<&str> = cells[1..].iter().map(|p| p.trim()).collect();
    // The area dimension: the one the pipeline names, else geo or cities, else the last one.
    let pick = |role: &str, fallback: &dyn Fn() -> Option<usize>| -> Result<usize, IngestError> {
        match source.columns.get(role) {
            Some(name) => dims.iter().position(|d| d == name).ok_or_else(|| {
                IngestError::MissingColumn(Box::new(super::MissingColumn {
                    source_name: source.name.clone(),
                    path: source.resolved.clone(),
                    role: role.into(),
                    column: name.clone(),
                    available: dims.clone(),
                    nearest: crate::config::nearest(name, dims.iter().map(String::as_str)).map(String::from),
                }))
            }),
            None => fallback().ok_or_else(|| parse_error(format!("cannot tell which dimension is the {role}; name it in columns = {{ {role} = \"...\" }}"))),
        }
    };
    let area = pick("area", &|| {
        dims.iter()
            .position(|d| d == "geo" || d == "cities")
            .or(Some(dims.len() - 1))
    })?;
    // The variable: the first dimension that is not the area, the frequency or the unit.
    let variable = pick("variable", &|| {
        (0..dims.len()).find(|&i| i != area && dims[i] != "freq" && dims[i] != "unit")
    })?;

    let roles: Vec<String> = ["area", "period", "variable", "value", "flag"]
        .map(String::from)
        .to_vec();
    let mut out: Vec<Texts> = vec![Texts::default(); roles.len()];
    let mut line_numbers = Vec::new();
    let mut ragged = Vec::new();
    for (i, line) in lines.enumerate() {
        let line_no = i as u64 + 2;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let keys: Vec<&str> = fields[0].split(',').map(str::trim).collect();
        if keys.len() != dims.len() || fields.len() != cells.len() {
            ragged.push((line_no, fields.len()));
        }
        for (p, cell) in periods.iter().zip(fields.iter().skip(1)) {
            let (value, flag) = split_cell(cell);
            let Some(value) = value else { continue };
            out[0].push(keys.get(area).copied());
            out[1].push(Some(p));
            out[2].push(keys.get(variable).copied());
            out[3].push(Some(value));
            out[4].push(flag.as_deref());
            line_numbers.push(line_no);
        }
    }
    Ok(RawTable {
        roles,
        cells: out.into_iter().map(RawColumn::Text).collect(),
        lines: line_numbers,
        columns: vec![
            dims[area].clone(),
            "TIME_PERIOD".into(),
            dims[variable].clone(),
            "(value)".into(),
            "(flag)".into(),
        ],
        header_len: cells.len(),
        ragged,
        bytes: owned.len() as u64,
        blake3: String::new(),
        files: Vec::new(),
        file_of: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_split_into_value_and_flag() {
        assert_eq!(split_cell("12.3 p"), (Some("12.3"), Some("p".into())));
        assert_eq!(split_cell("12.3 "), (Some("12.3"), None));
        assert_eq!(split_cell(":"), (None, None));
        assert_eq!(split_cell(": c"), (None, Some("c".into())));
        assert_eq!(split_cell("7.1bp"), (Some("7.1"), Some("bp".into())));
    }
}
