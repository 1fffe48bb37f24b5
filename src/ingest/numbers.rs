//! A number role's cells typed as a text file is read: each cell the contract keeps as the
//! number it is written as goes straight into a float64 column, and only the others (empty,
//! padded with spaces, words, out of bounds) keep their text, for the contract to check and
//! to quote in rejects. A 10 M-row CSV's numbers then never sit in text buffers, and are
//! parsed once.

use crate::contracts::PlainNumbers;

use super::Texts;

/// One number role's cells for every row (see the module's note).
#[derive(Debug, Clone)]
pub struct Numbers {
    rule: PlainNumbers,
    /// Each row's number, in the pieces it was read in (joined by moving them, not copying);
    /// NaN marks a row whose cell is in `odd` (a kept number is finite).
    pieces: Vec<Vec<f64>>,
    /// The rows before each piece.
    firsts: Vec<usize>,
    len: usize,
    /// The rows whose cells are kept as text, in order, and their cells.
    odd_rows: Vec<usize>,
    odd: Texts,
}

impl Numbers {
    pub fn new(rule: PlainNumbers) -> Numbers {
        Numbers {
            rule,
            pieces: vec![Vec::new()],
            firsts: vec![0],
            len: 0,
            odd_rows: Vec::new(),
            odd: Texts::default(),
        }
    }

    /// The piece being filled.
    fn tail(&mut self) -> &mut Vec<f64> {
        let last = self.pieces.len() - 1;
        &mut self.pieces[last]
    }

    pub fn reserve(&mut self, cells: usize) {
        self.tail().reserve(cells);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, cell: Option<&str>) {
        match cell.and_then(|s| self.rule.read(s)) {
            Some(x) => self.tail().push(x),
            None => self.push_odd(cell),
        }
        self.len += 1;
    }

    /// A number a JSON file writes as one: kept as it is where the contract keeps its text as
    /// that number, else as its text, as a text cell would be.
    pub(super) fn push_number(&mut self, n: super::records::Number) {
        match self.rule.keeps(n.value()) {
            Some(x) => {
                self.tail().push(x);
                self.len += 1;
            }
            None => n.with_text(|s| self.push(Some(s))),
        }
    }

    fn push_odd(&mut self, cell: Option<&str>) {
        self.odd_rows.push(self.len);
        self.tail().push(f64::NAN);
        self.odd.push(cell);
    }

    /// `n` rows without the column (a file of a glob that lacks it).
    pub(super) fn push_missing(&mut self, n: usize) {
        (0..n).for_each(|_| self.push(None));
    }

    /// The cells of another piece or file after these.
    pub(crate) fn append(&mut self, other: Numbers) {
        let above = self.len;
        if self.len == 0 {
            self.pieces.clear();
            self.firsts.clear();
        }
        for (piece, first) in other.pieces.into_iter().zip(other.firsts) {
            if !piece.is_empty() {
                self.pieces.push(piece);
                self.firsts.push(above + first);
            }
        }
        self.odd_rows
            .extend(other.odd_rows.iter().map(|r| r + above));
        self.odd.append(other.odd);
        self.len += other.len;
        // Rows pushed after this go into a piece of their own.
        self.firsts.push(self.len);
        self.pieces.push(Vec::new());
    }

    /// Each row's number, in pieces; NaN where the cell is kept as text.
    pub fn pieces(&self) -> impl Iterator<Item = &[f64]> {
        self.pieces.iter().map(Vec::as_slice)
    }

    /// Row `i`'s number, NaN where its cell is kept as text.
    pub fn value(&self, i: usize) -> Option<f64> {
        let k = self.firsts.partition_point(|&f| f <= i).checked_sub(1)?;
        self.pieces[k].get(i - self.firsts[k]).copied()
    }

    /// The rows whose cells are kept as text, in order.
    pub fn odd_rows(&self) -> &[usize] {
        &self.odd_rows
    }

    /// The cells of `odd_rows()`, from the `k`-th on.
    pub fn odd_from(&self, k: usize) -> super::Cells<'_> {
        self.odd.iter_from(k)
    }

    /// Row `i` as text: an odd cell as written, a number as the shortest text that reads back
    /// as it (which the contract reads as the same number).
    pub fn text(&self, i: usize) -> Option<String> {
        let x = self.value(i)?;
        if !x.is_nan() {
            return Some(x.to_string());
        }
        let k = self.odd_rows.binary_search(&i).ok()?;
        self.odd.get(k).map(String::from)
    }

    /// The cells as text (see [`Numbers::text`]).
    pub(super) fn into_texts(self) -> Texts {
        let mut t = Texts::default();
        (0..self.len()).for_each(|i| t.push(self.text(i).as_deref()));
        t
    }

    /// `n` rows of the same role without the column (a file of a glob that lacks it).
    pub(super) fn missing_like(&self, n: usize) -> Numbers {
        let mut missing = Numbers::new(self.rule);
        missing.push_missing(n);
        missing
    }

    /// The rows `keep` marks.
    pub(super) fn retain(&self, keep: &[bool]) -> Numbers {
        let mut out = Numbers::new(self.rule);
        let mut odd = self.odd_rows.iter().zip(self.odd.iter_from(0)).peekable();
        let values = self.pieces.iter().flatten();
        for (i, (&x, &k)) in values.zip(keep).enumerate() {
            let cell = match odd.next_if(|(&row, _)| row == i) {
                Some((_, cell)) => cell,
                None => None,
            };
            match (k, x.is_nan()) {
                (false, _) => {}
                (true, false) => out.tail().push(x),
                (true, true) => out.push_odd(cell),
            }
            out.len += k as usize;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceKind;

    fn weights() -> Numbers {
        // Weights must be positive: 0 and -1 parse, but the contract rejects them.
        Numbers::new(PlainNumbers::of(SourceKind::Microdata, "weight", false).unwrap())
    }

    #[test]
    fn plain_numbers_are_typed_and_the_rest_kept_as_written() {
        let mut n = weights();
        let cells = [
            Some("1.5"),
            None,
            Some(""),
            Some(" 2"),
            Some("0"),
            Some("-1"),
            Some("NA"),
            Some("1e3"),
            Some("inf"),
            Some("2e15"),
        ];
        cells.iter().for_each(|c| n.push(*c));
        assert_eq!(n.len(), 10);
        assert_eq!(n.odd_rows(), [1, 2, 3, 4, 5, 6, 8, 9]);
        assert_eq!(n.value(0), Some(1.5));
        assert_eq!(n.value(7), Some(1000.0));
        assert_eq!(n.value(10), None);
        let odd: Vec<Option<&str>> = n.odd_from(0).collect();
        let expected = [None, Some(""), Some(" 2"), Some("0"), Some("-1")];
        assert_eq!(odd[..5], expected);
        assert_eq!(n.text(3).as_deref(), Some(" 2"));
        assert_eq!(n.text(7).as_deref(), Some("1000"));
        assert_eq!(n.text(1), None);
    }

    #[test]
    fn pieces_append_and_rows_are_kept_with_their_cells() {
        let (mut a, mut b) = (weights(), weights());
        [Some("1"), Some("x")].iter().for_each(|c| a.push(*c));
        [Some("y"), Some("2"), Some("z")]
            .iter()
            .for_each(|c| b.push(*c));
        a.append(b);
        a.push_missing(1);
        assert_eq!(a.pieces().count(), 3, "two pieces moved, one started");
        assert_eq!(a.odd_rows(), [1, 2, 4, 5]);
        let texts: Vec<Option<String>> = (0..a.len()).map(|i| a.text(i)).collect();
        let s = |t: &str| Some(t.to_string());
        assert_eq!(texts, [s("1"), s("x"), s("y"), s("2"), s("z"), None]);
        let kept = a.retain(&[false, true, false, true, true, false]);
        let texts: Vec<Option<String>> = (0..kept.len()).map(|i| kept.text(i)).collect();
        assert_eq!(texts, [s("x"), s("2"), s("z")]);
        assert_eq!(kept.odd_rows(), [0, 2]);
        let all = a.into_texts();
        assert_eq!(all.get(4), Some("z"));
        assert_eq!(all.get(5), None);
    }
}
