//! Byte spans of the pipeline file turned into file:line:column, errors built at them, and the
//! nearest valid name to a misspelt one.

use std::path::Path;

use toml::Spanned;

use super::{ConfigError, Location};

/// Turns byte spans into file:line:column and builds errors.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str) -> Self {
        Ctx { file, text }
    }

    pub(super) fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        Location {
            file: self.file.to_path_buf(),
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }

    pub(super) fn error_at_offset(
        &self,
        offset: usize,
        message: String,
        hint: Option<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            location: self.location(offset),
            message,
            hint,
        }
    }

    pub(super) fn error<T>(
        &self,
        at: &Spanned<T>,
        message: String,
        hint: Option<String>,
    ) -> ConfigError {
        self.error_at_offset(at.span().start, message, hint)
    }

    /// The location of `key` inside a spanned table, falling back to the table itself.
    pub(super) fn key_offset(&self, span: std::ops::Range<usize>, key: &str) -> usize {
        let region = self.text.get(span.clone()).unwrap_or("");
        let mut from = 0;
        while let Some(i) = region[from..].find(key) {
            let at = from + i;
            let rest = region[at + key.len()..].trim_start_matches([' ', '\t', '"']);
            let boundary_before = at == 0
                || !region[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if boundary_before && rest.starts_with('=') {
                return span.start + at;
            }
            from = at + key.len();
        }
        span.start
    }

    /// The location of a quoted string value inside a spanned value.
    pub(super) fn value_offset(&self, span: std::ops::Range<usize>, value: &str) -> usize {
        let region = self.text.get(span.clone()).unwrap_or("");
        region
            .find(&format!("\"{value}\""))
            .or_else(|| region.find(&format!("'{value}'")))
            .map(|i| span.start + i)
            .unwrap_or(span.start)
    }

    pub(super) fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let message = e.message().trim().to_string();
        let hint = suggestion_from_serde_message(&message)
            .or_else(|| Some("see docs/pipeline.md for every key".to_string()));
        self.error_at_offset(offset, message, hint)
    }
}

/// serde says "unknown field `nmae`, expected one of `name`, `title`" (or "unknown variant");
/// turn that into "did you mean `name`?".
fn suggestion_from_serde_message(message: &str) -> Option<String> {
    let what = if message.starts_with("unknown field") {
        "key"
    } else if message.starts_with("unknown variant") {
        "value"
    } else {
        return None;
    };
    let mut ticks = message.split('`').skip(1).step_by(2);
    let bad = ticks.next()?;
    let valid: Vec<&str> = ticks.collect();
    match nearest(bad, valid.iter().copied()) {
        Some(best) => Some(format!("did you mean the {what} `{best}`?")),
        None if !valid.is_empty() => Some(format!("valid {what}s: {}", valid.join(", "))),
        None => None,
    }
}

/// The candidate closest to `bad`, if it is close enough to be a plausible typo.
pub fn nearest<'c>(bad: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let bad_l = bad.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&bad_l, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
