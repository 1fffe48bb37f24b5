//! Turns what polars' SQL says about a query into an error a user can act on: the place in the
//! pipeline file, the table or column that does not exist, and the nearest one that does.

use polars::prelude::PolarsError;

use super::CustomError;
use crate::config::{nearest, CustomIndicator};

/// The tables a query may read, with their columns.
pub struct Tables<'a> {
    pub tables: &'a [(String, Vec<String>)],
}

impl Tables<'_> {
    fn names(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(|(n, _)| n.as_str())
    }

    /// The columns of the tables `sql` reads (all tables' when it is unclear).
    fn columns_read(&self, sql: &str) -> Vec<&str> {
        let read: Vec<String> = polars::sql::extract_table_identifiers(sql, false, true)
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.to_lowercase())
            .collect();
        let mut out: Vec<&str> = self
            .tables
            .iter()
            .filter(|(n, _)| read.is_empty() || read.contains(&n.to_lowercase()))
            .flat_map(|(_, cols)| cols.iter().map(String::as_str))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The table `name` is, or the table `sql` gives the alias `name`, with its columns.
    fn resolve<'s>(&'s self, sql: &str, name: &str) -> Option<(&'s str, &'s [String])> {
        let table = aliases(sql)
            .into_iter()
            .find(|(_, alias)| alias.eq_ignore_ascii_case(name))
            .map_or(name.to_string(), |(t, _)| t);
        self.tables
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&table))
            .map(|(n, c)| (n.as_str(), c.as_slice()))
    }
}

/// (table, alias) for every `FROM t a`, `FROM t AS a`, `JOIN t a` in a query: enough to name
/// the table an unknown `a.column` was looked for in.
fn aliases(sql: &str) -> Vec<(String, String)> {
    const NOT_ALIASES: [&str; 14] = [
        "on", "where", "join", "inner", "left", "right", "full", "cross", "group", "order",
        "limit", "union", "using", "natural",
    ];
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for (k, w) in words.iter().enumerate() {
        if !(w.eq_ignore_ascii_case("from") || w.eq_ignore_ascii_case("join")) {
            continue;
        }
        let Some(table) = words.get(k + 1) else {
            continue;
        };
        let mut next = k + 2;
        if words
            .get(next)
            .is_some_and(|a| a.eq_ignore_ascii_case("as"))
        {
            next += 1;
        }
        if let Some(alias) = words.get(next) {
            if !NOT_ALIASES.iter().any(|n| alias.eq_ignore_ascii_case(n)) {
                out.push((table.trim_matches('"').to_string(), alias.to_string()));
            }
        }
    }
    out
}

/// The error a polars failure on `c`'s query means.
pub fn explain(c: &CustomIndicator, tables: &Tables, e: &PolarsError) -> CustomError {
    let text = e.to_string();
    let at = |word: &str| c.location(find_word(&c.sql, word).unwrap_or(0));
    if let Some(name) = between(&text, "relation '", "' was not found") {
        let hint = match nearest(name, tables.names()) {
            Some(n) => format!("did you mean the table `{n}`? "),
            None => String::new(),
        };
        return CustomError::query(
            c,
            at(name),
            format!("the query reads a table `{name}` that does not exist"),
            Some(format!(
                "{hint}the tables are the pipeline's sources and `indicators`: {}",
                tables.names().collect::<Vec<_>>().join(", ")
            )),
        );
    }
    if let Some(rest) = text.split("no column named '").nth(1) {
        let name = rest.split('\'').next().unwrap_or("");
        let alias = between(rest, "found in table '", "'").unwrap_or("");
        return match tables.resolve(&c.sql, alias) {
            Some((table, cols)) => {
                let columns: Vec<&str> = cols.iter().map(String::as_str).collect();
                let whose = match table.eq_ignore_ascii_case(alias) {
                    true => format!("`{table}`"),
                    false => format!("`{alias}` (table `{table}`)"),
                };
                missing_column(c, at(name), name, &columns, Some(&whose))
            }
            None => missing_column(c, at(name), name, &tables.columns_read(&c.sql), None),
        };
    }
    if let Some(rest) = text.split("unable to find column \"").nth(1) {
        let name = rest.split('"').next().unwrap_or("");
        return missing_column(c, at(name), name, &tables.columns_read(&c.sql), None);
    }
    if let Some(name) = between(&text, "no table or struct column named '", "' found") {
        let hint = nearest(name, tables.names())
            .map(|n| format!("did you mean the table `{n}`?"))
            .unwrap_or_else(|| "name a table after FROM or JOIN, or give it that alias".into());
        return CustomError::query(
            c,
            at(name),
            format!("`{name}` is neither a table nor an alias the query defines"),
            Some(hint),
        );
    }
    if let Some((line, column)) = parser_place(&text) {
        return CustomError::query(
            c,
            c.location_of(line, column),
            format!("the query does not parse: {}", parser_message(&text)),
            Some("check the SQL near this place (polars SQL, a PostgreSQL dialect)".into()),
        );
    }
    CustomError::query(
        c,
        c.location(0),
        format!("the query fails: {}", first_line(&text)),
        Some("polars SQL follows PostgreSQL; check types and functions".into()),
    )
}

fn missing_column(
    c: &CustomIndicator,
    at: crate::config::Location,
    name: &str,
    columns: &[&str],
    table: Option<&str>,
) -> CustomError {
    let near = nearest(name, columns.iter().copied())
        .map(|n| format!("did you mean `{n}`? "))
        .unwrap_or_default();
    let whose = match table {
        Some(t) => format!(" in {t}"),
        None => " in the tables the query reads".into(),
    };
    CustomError::query(
        c,
        at,
        format!("column `{name}` does not exist{whose}"),
        Some(format!("{near}the columns are: {}", columns.join(", "))),
    )
}

/// The text between `start` and `end`.
fn between<'t>(text: &'t str, start: &str, end: &str) -> Option<&'t str> {
    let from = text.find(start)? + start.len();
    let len = text[from..].find(end)?;
    Some(&text[from..from + len])
}

/// sqlparser's "... at Line: 2, Column: 5".
fn parser_place(text: &str) -> Option<(usize, usize)> {
    let rest = text.split("Line: ").nth(1)?;
    let (line, rest) = rest.split_once(',')?;
    let column = rest.trim_start().strip_prefix("Column: ")?;
    let column: String = column.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

fn parser_message(text: &str) -> String {
    let text = first_line(text);
    let text = text.split(" at Line: ").next().unwrap_or(text);
    text.trim_start_matches("sql parser error: ")
        .trim_start_matches("SQLSyntax: ")
        .to_string()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

/// Where `word` first appears in `sql` as a whole word, ignoring case.
pub fn find_word(sql: &str, word: &str) -> Option<usize> {
    if word.is_empty() {
        return None;
    }
    let hay = sql.to_lowercase();
    let needle = word.to_lowercase();
    if hay.len() != sql.len() {
        return None;
    }
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = hay[from..].find(&needle) {
        let at = from + i;
        let before = hay[..at].chars().next_back();
        let after = hay[at + needle.len()..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return Some(at);
        }
        from = at + needle.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_places_are_read() {
        let text =
            "sql parser error: Expected: end of statement, found: FORM at Line: 2, Column: 14";
        assert_eq!(parser_place(text), Some((2, 14)));
        assert_eq!(
            parser_message(text),
            "Expected: end of statement, found: FORM"
        );
    }

    #[test]
    fn aliases_name_their_tables() {
        let sql = "SELECT p.area FROM projects p JOIN areas AS a ON p.area = a.area WHERE x";
        assert_eq!(
            aliases(sql),
            vec![
                ("projects".to_string(), "p".to_string()),
                ("areas".to_string(), "a".to_string())
            ]
        );
        assert!(aliases("SELECT * FROM projects WHERE 1 = 1").is_empty());
    }

    #[test]
    fn words_are_found_whole() {
        assert_eq!(
            find_word("SELECT amounts, amount FROM p", "amount"),
            Some(16)
        );
        assert_eq!(find_word("select x from P", "p"), Some(14));
        assert_eq!(find_word("select x", "y"), None);
    }
}
