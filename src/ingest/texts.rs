//! Text cells in large buffers, the way Arrow keeps strings: what a text file's roles are
//! read into before the contract types them.

/// One role's cell for every row, as text in large buffers (the way Arrow keeps strings): a
/// string per cell would cost an allocation each and several times the memory on large files.
/// Pieces of a file read side by side, and the files of a glob, are joined by moving their
/// buffers, not copying them.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    segments: Vec<Segment>,
    /// The first row of each segment.
    firsts: Vec<usize>,
    len: usize,
}

#[derive(Debug, Clone, Default)]
struct Segment {
    data: String,
    /// Where each cell ends in `data`; the top bit marks a missing cell (a row too short to
    /// have it, or a file of a glob without the column). Four bytes a cell rather than eight,
    /// so a segment holds at most [`SEGMENT_BYTES`].
    ends: Vec<u32>,
}

const MISSING: u32 = 1 << 31;
/// Unit tests use tiny segments, so that every table they read spans several.
const SEGMENT_BYTES: usize = if cfg!(test) { 7 } else { MISSING as usize - 1 };

impl Texts {
    /// The segment being filled, started if there is none or the last one is full.
    fn tail(&mut self, adding: usize) -> &mut Segment {
        let full = self
            .segments
            .last()
            .is_none_or(|s| !s.data.is_empty() && s.data.len() + adding > SEGMENT_BYTES);
        if full {
            self.segments.push(Segment::default());
            self.firsts.push(self.len);
        }
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }

    pub fn reserve(&mut self, cells: usize, bytes: usize) {
        let tail = self.tail(0);
        tail.ends.reserve(cells);
        tail.data.reserve(bytes.min(SEGMENT_BYTES));
    }

    /// The bytes of text held.
    pub fn bytes(&self) -> usize {
        self.segments.iter().map(|s| s.data.len()).sum()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, cell: Option<&str>) {
        let adding = cell.map_or(0, str::len);
        let tail = self.tail(adding);
        match cell {
            Some(s) => {
                tail.data.push_str(s);
                tail.ends.push(tail.data.len() as u32);
            }
            None => tail.ends.push(tail.data.len() as u32 | MISSING),
        }
        self.len += 1;
    }

    /// Row `i`'s cell; `None` where it is missing (or `i` is out of range).
    pub fn get(&self, i: usize) -> Option<&str> {
        let k = match self.segments.len() {
            1 => 0,
            _ => self.firsts.partition_point(|&f| f <= i).checked_sub(1)?,
        };
        let segment = self.segments.get(k)?;
        let j = i - self.firsts[k];
        let end = *segment.ends.get(j)?;
        if end & MISSING != 0 {
            return None;
        }
        let start = match j {
            0 => 0,
            _ => segment.ends[j - 1] & !MISSING,
        };
        segment.data.get(start as usize..end as usize)
    }

    /// The cells from row `i` on, in order: what reading row after row needs, without
    /// looking up each row's segment.
    pub fn iter_from(&self, i: usize) -> Cells<'_> {
        let k = self.firsts.partition_point(|&f| f <= i).saturating_sub(1);
        let j = i.saturating_sub(self.firsts.get(k).copied().unwrap_or(0));
        Cells {
            texts: self,
            segment: k,
            cell: j,
        }
    }

    pub(super) fn append(&mut self, other: Texts) {
        if self.segments.last().is_some_and(|s| s.ends.is_empty()) {
            self.segments.pop();
            self.firsts.pop();
        }
        for (segment, first) in other.segments.into_iter().zip(other.firsts) {
            if !segment.ends.is_empty() {
                self.segments.push(segment);
                self.firsts.push(self.len + first);
            }
        }
        self.len += other.len;
    }

    pub(super) fn push_missing(&mut self, n: usize) {
        let tail = self.tail(0);
        let end = tail.data.len() as u32 | MISSING;
        tail.ends.extend(std::iter::repeat_n(end, n));
        self.len += n;
    }
}

/// An iterator over a [`Texts`]' cells, see [`Texts::iter_from`].
pub struct Cells<'a> {
    texts: &'a Texts,
    segment: usize,
    cell: usize,
}

impl<'a> Iterator for Cells<'a> {
    type Item = Option<&'a str>;

    fn next(&mut self) -> Option<Option<&'a str>> {
        loop {
            let segment = self.texts.segments.get(self.segment)?;
            if let Some(&end) = segment.ends.get(self.cell) {
                let start = match self.cell {
                    0 => 0,
                    j => segment.ends[j - 1] & !MISSING,
                };
                self.cell += 1;
                return Some(match end & MISSING {
                    0 => segment.data.get(start as usize..end as usize),
                    _ => None,
                });
            }
            self.segment += 1;
            self.cell = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Texts;

    #[test]
    fn texts_keep_cells_and_missing_ones_apart() {
        let mut a = Texts::default();
        a.push(Some("ab"));
        a.push(None);
        a.push(Some(""));
        a.push(Some("é"));
        let mut b = Texts::default();
        b.push(Some("x"));
        b.push_missing(2);
        b.append(a);
        b.push(Some("z"));
        let got: Vec<Option<&str>> = (0..b.len()).map(|i| b.get(i)).collect();
        assert_eq!(
            got,
            [
                Some("x"),
                None,
                None,
                Some("ab"),
                None,
                Some(""),
                Some("é"),
                Some("z")
            ]
        );
        assert_eq!(b.len(), 8);
        assert_eq!(b.get(8), None);
        assert_eq!(Texts::default().get(0), None);
        for i in 0..=b.len() {
            let from: Vec<Option<&str>> = b.iter_from(i).collect();
            assert_eq!(from, got[i..], "from row {i}");
        }
        assert!(b.segments.len() >= 2, "{b:?}");
    }
}
