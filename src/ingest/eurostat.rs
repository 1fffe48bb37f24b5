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
    let text = utf8(source, owned)?;
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
    let (dims, _time) = cells[0].split_once('\\').ok_or_else(|| {
        IngestError::parse(
            source,
            1,
            format!(
                "the first header cell `{}` is not Eurostat's `dimensions\\TIME_PERIOD`",
                cells[0]
            ),
        )
    })?;
    let dims: Vec<String> = dims.split(',').map(|d| d.trim().to_string()).collect();
    let periods: Vec<&str> = cells[1..].iter().map(|p| p.trim()).collect();
    let (area, variable) = area_and_variable(source, &dims)?;
    let filter = slices::positions(source, &dims)?;
    let mut long = Long::new(dims.len());
    while reader.read_record(&mut record).map_err(read_error)? {
        let line = record
            .position()
            .map_or(0, |p| super::csv::start_line(text.as_bytes(), p));
        long.series(
            &record,
            line,
            cells.len(),
            &periods,
            (area, variable),
            &filter,
        );
    }
    slices::check_values(source, &dims, &filter, &long.all_values)?;
    if let Some((key, first, second)) = slices::first_repeat(&long.keys, &long.lines) {
        let mut fixed = vec![area, variable];
        fixed.extend(filter.iter().map(|(d, _)| *d));
        let key = (key.0.as_str(), key.1.as_str(), key.2.as_str());
        if let Some(e) =
            slices::ambiguous(source, &dims, &long.kept_values, &fixed, key, first, second)
        {
            return Err(e);
        }
    }
    Ok(RawTable {
        roles: ["area", "period", "variable", "value", "flag"]
            .map(String::from)
            .to_vec(),
        cells: long.out.into_iter().map(RawColumn::Text).collect(),
        lines: Lines::Listed(long.lines),
        columns: vec![
            dims[area].clone(),
            "TIME_PERIOD".into(),
            dims[variable].clone(),
            "(value)".into(),
            "(flag)".into(),
        ],
        header_len: cells.len(),
        ragged: long.ragged,
        bytes: owned.len() as u64,
        ..RawTable::default()
    })
}

/// The file as text, or an error at the line of its first byte that is not UTF-8.
fn utf8<'b>(source: &Source, owned: &'b [u8]) -> Result<&'b str, IngestError> {
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
    })
}

/// Which dimensions are the area and the variable: the ones the pipeline names; else for the
/// area geo or cities, else the last one; for the variable, the first that is not the area,
/// the frequency or the unit, and not one the filter fixes.
fn area_and_variable(source: &Source, dims: &[String]) -> Result<(usize, usize), IngestError> {
    let parse_error = |message: String| IngestError::parse(source, 1, message);
    let pick = |role: &str, fallback: &dyn Fn() -> Option<usize>| -> Result<usize, IngestError> {
        match source.columns.get(role) {
            Some(name) => dims.iter().position(|d| d == name).ok_or_else(|| {
                IngestError::MissingColumn(Box::new(super::MissingColumn {
                    source_name: source.name.clone(),
                    path: source.resolved.clone(),
                    role: role.into(),
                    column: name.clone(),
                    available: dims.to_vec(),
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
    let variable = pick("variable", &|| {
        (0..dims.len()).find(|&i| {
            i != area
                && dims[i] != "freq"
                && dims[i] != "unit"
                && !source.filter.contains_key(&dims[i])
        })
    })?;
    Ok((area, variable))
}

/// The long layout (area, period, variable, value, flag) as the series are read, with each
/// observation's line and key, and each dimension's values among all series (for the filter)
/// and among those kept.
struct Long {
    out: Vec<Texts>,
    lines: Vec<u64>,
    ragged: Vec<(u64, usize)>,
    all_values: Vec<std::collections::BTreeSet<String>>,
    kept_values: Vec<std::collections::BTreeSet<String>>,
    keys: Vec<(String, String, String)>,
}

impl Long {
    fn new(dims: usize) -> Long {
        Long {
            out: vec![Texts::default(); 5],
            lines: Vec::new(),
            ragged: Vec::new(),
            all_values: vec![std::collections::BTreeSet::new(); dims],
            kept_values: vec![std::collections::BTreeSet::new(); dims],
            keys: Vec::new(),
        }
    }

    /// One series (a row of the file, on `line`): an observation per period with a value,
    /// where the filter keeps the series. A missing value (`:`) is no observation.
    fn series(
        &mut self,
        record: &::csv::StringRecord,
        line: u64,
        width: usize,
        periods: &[&str],
        (area, variable): (usize, usize),
        filter: &[(usize, String)],
    ) {
        let dims = self.all_values.len();
        if record.iter().all(|c| c.trim().is_empty()) {
            return;
        }
        let series = record.get(0).unwrap_or("");
        let key: Vec<&str> = series.split(',').map(str::trim).collect();
        if key.len() != dims || record.len() != width {
            self.ragged.push((line, record.len()));
        }
        for (d, v) in key.iter().enumerate().take(dims) {
            if !self.all_values[d].contains(*v) {
                self.all_values[d].insert(v.to_string());
            }
        }
        if filter.iter().any(|(d, v)| key.get(*d) != Some(&v.as_str())) {
            return;
        }
        let mut any = false;
        for (p, cell) in periods.iter().zip(record.iter().skip(1)) {
            let (value, flag) = split_cell(cell);
            let Some(value) = value else { continue };
            any = true;
            self.out[0].push(key.get(area).copied());
            self.out[1].push(Some(p));
            self.out[2].push(key.get(variable).copied());
            self.out[3].push(Some(value));
            self.out[4].push(flag.as_deref());
            self.lines.push(line);
            self.keys.push((
                key.get(area).unwrap_or(&"").to_string(),
                key.get(variable).unwrap_or(&"").to_string(),
                p.to_string(),
            ));
        }
        if any {
            for (d, v) in key.iter().enumerate().take(dims) {
                if !self.kept_values[d].contains(*v) {
                    self.kept_values[d].insert(v.to_string());
                }
            }
        }
    }
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
