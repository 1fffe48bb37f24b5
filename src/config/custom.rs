//! `[indicators.custom.ID]`: an analyst's own indicator, a SQL query over the pipeline's
//! tables with its name, unit, direction and definition beside it.
//!
//! Here the table is read and its fields checked; the query itself is checked against the
//! tables' columns by `indicators::custom`, which knows them. Each indicator keeps where its
//! query starts in the pipeline file, so that an error in the query can name the file's line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::evaluation::choose;
use super::{ConfigError, Ctx, Location};

/// The families a custom indicator may join; `custom` is the default.
pub const CUSTOM_FAMILIES: [&str; 4] = ["custom", "exclusion", "spending", "climate"];
pub const DIRECTIONS: [&str; 3] = ["higher_better", "lower_better", "neutral"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustom {
    pub name: String,
    pub unit: String,
    pub direction: Option<Spanned<String>>,
    pub definition: Option<String>,
    pub family: Option<Spanned<String>>,
    pub sql: Spanned<String>,
}

/// One custom indicator, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomIndicator {
    pub id: String,
    pub name: String,
    pub unit: String,
    /// `higher_better`, `lower_better` or `neutral`.
    pub direction: String,
    pub definition: String,
    /// One of [`CUSTOM_FAMILIES`].
    pub family: String,
    pub sql: String,
    /// Where the indicator's table is in the pipeline file.
    pub at: Location,
    /// Where the query's first character is in the pipeline file.
    sql_at: Location,
    /// Whether the query's text is the file's text character for character (no escapes), so
    /// that a place in the query is a place in the file.
    sql_verbatim: bool,
}

impl CustomIndicator {
    /// The place in the pipeline file of the query's character at byte `offset`.
    pub fn location(&self, offset: usize) -> Location {
        if !self.sql_verbatim {
            return self.sql_at.clone();
        }
        let offset = offset.min(self.sql.len());
        let before = &self.sql[..offset];
        let lines = before.matches('\n').count();
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let chars = before[line_start..].chars().count();
        Location {
            file: self.sql_at.file.clone(),
            line: self.sql_at.line + lines,
            column: if lines == 0 {
                self.sql_at.column + chars
            } else {
                chars + 1
            },
        }
    }

    /// The place in the pipeline file of the query's `line` and `column` (1-based), as a SQL
    /// parser reports them.
    pub fn location_of(&self, line: usize, column: usize) -> Location {
        let mut offset = 0;
        for (k, text) in self.sql.split_inclusive('\n').enumerate() {
            if k + 1 == line {
                let within: usize = text
                    .chars()
                    .take(column.saturating_sub(1))
                    .map(char::len_utf8)
                    .sum();
                return self.location(offset + within);
            }
            offset += text.len();
        }
        self.location(offset)
    }
}

/// Checks every `[indicators.custom.ID]` table. `taken` says whether an id is already the
/// catalogue's or a declared series'.
pub(super) fn resolve(
    ctx: &Ctx,
    raw: &BTreeMap<String, Spanned<RawCustom>>,
    taken: &dyn Fn(&str) -> bool,
) -> Result<Vec<CustomIndicator>, ConfigError> {
    let mut out = Vec::new();
    for (id, spanned) in raw {
        let r = spanned.get_ref();
        let at = ctx.location(header_offset(ctx, id).unwrap_or(spanned.span().start));
        let error = |message: String, hint: &str| ConfigError::Invalid {
            location: at.clone(),
            message,
            hint: Some(hint.into()),
        };
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(error(
                format!("custom indicator id `{id}` may only hold a-z, 0-9 and `_`"),
                "the id becomes a value of the `indicator` column, e.g. spend_per_1000",
            ));
        }
        if taken(id) {
            return Err(error(
                format!("custom indicator `{id}` has the id of a catalogue indicator or a declared series"),
                "give it another id; `cityimpact indicators` lists the catalogue",
            ));
        }
        if r.sql.get_ref().trim().is_empty() {
            return Err(ctx.error(
                &r.sql,
                format!("custom indicator `{id}` has an empty query"),
                Some("write a SELECT giving area, period and value".into()),
            ));
        }
        let direction = match &r.direction {
            Some(d) => choose(ctx, d, "direction", &DIRECTIONS)?,
            None => "neutral",
        };
        let family = match &r.family {
            Some(f) => choose(ctx, f, "family", &CUSTOM_FAMILIES)?,
            None => "custom",
        };
        let (sql_at, sql_verbatim) = sql_start(ctx, &r.sql);
        out.push(CustomIndicator {
            id: id.clone(),
            name: r.name.clone(),
            unit: r.unit.clone(),
            direction: direction.into(),
            definition: r.definition.clone().unwrap_or_else(|| {
                format!(
                    "{}: the pipeline's own SQL query ([indicators.custom.{id}]).",
                    r.name
                )
            }),
            family: family.into(),
            sql: r.sql.get_ref().clone(),
            at,
            sql_at,
            sql_verbatim,
        });
    }
    Ok(out)
}

/// Where `[indicators.custom.ID]` is written, when it is written as a table header.
fn header_offset(ctx: &Ctx, id: &str) -> Option<usize> {
    ["[indicators.custom.", "[ indicators.custom."]
        .iter()
        .find_map(|h| ctx.text.find(&format!("{h}{id}]")))
}

/// The file place of a string value's first character, and whether its text is the file's.
fn sql_start(ctx: &Ctx, sql: &Spanned<String>) -> (Location, bool) {
    let span = sql.span();
    let raw = ctx.text.get(span.clone()).unwrap_or("");
    let (open, close) = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
        (3, 3)
    } else {
        (1, 1)
    };
    let mut start = open.min(raw.len());
    // A newline right after the opening delimiter of a multi-line string is not part of it.
    if open == 3 {
        if raw[start..].starts_with("\r\n") {
            start += 2;
        } else if raw[start..].starts_with('\n') {
            start += 1;
        }
    }
    let inner = raw
        .get(start..raw.len().saturating_sub(close))
        .unwrap_or("");
    (ctx.location(span.start + start), inner == sql.get_ref())
}

/// The pipeline file's settings without its custom indicators, hashed: the built-in families
/// depend on these only, so that editing a query does not recompute them.
pub(super) fn settings_hash(text: &str) -> String {
    let Ok(mut table) = toml::from_str::<toml::Table>(text) else {
        return blake3::hash(text.as_bytes()).to_hex().to_string();
    };
    if let Some(toml::Value::Table(ind)) = table.get_mut("indicators") {
        ind.remove("custom");
    }
    let canonical = toml::to_string(&table).unwrap_or_else(|_| text.to_string());
    blake3::hash(canonical.as_bytes()).to_hex().to_string()
}
