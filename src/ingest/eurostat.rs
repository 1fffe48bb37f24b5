//! Eurostat's bulk-download TSV: the first header cell names the dimensions and the time axis
//! (`freq,indic_ur,cities\TIME_PERIOD`), the other header cells are periods, and each cell holds
//! a value with an optional flag (`12.3 p`). `:` is a missing observation: no row, not an
//! error. The result is the long layout of a `city_stats` source: area, period, variable,
//! value, flag.

use super::{slices, IngestError, Lines, RawColumn, RawTable, Texts};
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
    // Eurostat writes tabs; a table rewritten by other tools may use commas, with the first
    // cell (`freq,geo\TIME_PERIOD`) quoted.
    let delimiter = match text.lines().next().is_some_and(|h| h.contains('\t')) {
        true => b'\t',
        false => b',',
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = ::csv::StringRecord::new();
    let read_error = |e: ::csv::Error| {
        let line = e
            .position()
            .map_or(1, |p| super::csv::start_line(text.as_bytes(), p) as usize);
        IngestError::parse(source, line, e.to_string())
    };
    let no_header = || IngestError::NoHeader {
        source_name: source.name.clone(),
        path: source.resolved.clone(),
    };
    if !reader.read_record(&mut record).map_err(read_error)? {
        return Err(no_header());
    }
    let cells: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
    if cells.iter().all(String::is_empty) {
        return Err(no_header());
    }
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
    // The variable: the first dimension that is not the area, the frequency or the unit, and
    // not one the filter fixes.
    let variable = pick("variable", &|| {
        (0..dims.len()).find(|&i| {
            i != area
                && dims[i] != "freq"
                && dims[i] != "unit"
                && !source.filter.contains_key(&dims[i])
        })
    })?;
    let filter = slices::positions(source, &dims)?;

    let roles: Vec<String> = ["area", "period", "variable", "value", "flag"]
        .map(String::from)
        .to_vec();
    let mut out: Vec<Texts> = vec![Texts::default(); roles.len()];
    let mut line_numbers = Vec::new();
    let mut ragged = Vec::new();
    // Each dimension's values, among all series (for the filter) and the kept ones.
    let mut all_values = vec![std::collections::BTreeSet::new(); dims.len()];
    let mut kept_values = vec![std::collections::BTreeSet::new(); dims.len()];
    let mut keys: Vec<(String, String, String)> = Vec::new();
    while reader.read_record(&mut record).map_err(read_error)? {
        let line_no = record
            .position()
            .map_or(0, |p| super::csv::start_line(text.as_bytes(), p));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let series = record.get(0).unwrap_or("");
        let key: Vec<&str> = series.split(',').map(str::trim).collect();
        if key.len() != dims.len() || record.len() != cells.len() {
            ragged.push((line_no, record.len()));
        }
        for (d, v) in key.iter().enumerate().take(dims.len()) {
            if !all_values[d].contains(*v) {
                all_values[d].insert(v.to_string());
            }
        }
        if filter.iter().any(|(d, v)| key.get(*d) != Some(&v.as_str())) {
            continue;
        }
        let mut any = false;
        for (p, cell) in periods.iter().zip(record.iter().skip(1)) {
            let (value, flag) = split_cell(cell);
            let Some(value) = value else { continue };
            any = true;
            out[0].push(key.get(area).copied());
            out[1].push(Some(p));
            out[2].push(key.get(variable).copied());
            out[3].push(Some(value));
            out[4].push(flag.as_deref());
            line_numbers.push(line_no);
            keys.push((
                key.get(area).unwrap_or(&"").to_string(),
                key.get(variable).unwrap_or(&"").to_string(),
                p.to_string(),
            ));
        }
        if any {
            for (d, v) in key.iter().enumerate().take(dims.len()) {
                if !kept_values[d].contains(*v) {
                    kept_values[d].insert(v.to_string());
                }
            }
        }
    }
    slices::check_values(source, &dims, &filter, &all_values)?;
    if let Some((key, first, second)) = slices::first_repeat(&keys, &line_numbers) {
        let mut fixed = vec![area, variable];
        fixed.extend(filter.iter().map(|(d, _)| *d));
        let key = (key.0.as_str(), key.1.as_str(), key.2.as_str());
        if let Some(e) = slices::ambiguous(source, &dims, &kept_values, &fixed, key, first, second)
        {
            return Err(e);
        }
    }
    Ok(RawTable {
        roles,
        cells: out.into_iter().map(RawColumn::Text).collect(),
        lines: Lines::Listed(line_numbers),
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
        ..RawTable::default()
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
