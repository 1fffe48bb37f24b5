//! Parquet files that every reader takes: zstd, full statistics, our key-value metadata, and
//! an Arrow schema hint with plain `string` columns.
//!
//! polars' eager writer declares strings as Arrow `string_view`, which older pyarrow, pandas,
//! R arrow and Spark reject or mishandle (shared/design/rust-notes.md). The pages themselves
//! are plain UTF-8 byte arrays either way; only the `ARROW:schema` hint names the type. We
//! write that hint ourselves with `string`, and polars keeps a hint that is already there.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;
use polars_arrow::datatypes::ArrowDataType;
use polars_parquet::write::{schema_to_metadata_key, KeyValue, StatisticsOptions};

/// The Arrow schema hint with view types replaced by their plain equivalents.
fn plain_arrow_hint(df: &DataFrame) -> KeyValue {
    let mut schema = df.schema().to_arrow(CompatLevel::newest());
    for field in schema.iter_values_mut() {
        field.dtype = match &field.dtype {
            ArrowDataType::Utf8View => ArrowDataType::Utf8,
            ArrowDataType::BinaryView => ArrowDataType::Binary,
            other => other.clone(),
        };
    }
    schema_to_metadata_key(&schema)
}

/// Our writer's options, with the footer metadata after the Arrow schema hint.
fn writer<W: std::io::Write>(
    w: W,
    df: &DataFrame,
    metadata: &[(String, String)],
) -> ParquetWriter<W> {
    let mut kv = vec![plain_arrow_hint(df)];
    kv.extend(metadata.iter().map(|(k, v)| KeyValue {
        key: k.clone(),
        value: Some(v.clone()),
    }));
    ParquetWriter::new(w)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_key_value_metadata(Some(KeyValueMetadata::Static(kv)))
}

/// Writes `df` to `path` with the given footer metadata. Returns the file's size.
pub fn write(df: &mut DataFrame, path: &Path, metadata: &[(String, String)]) -> PolarsResult<u64> {
    let file = File::create(path)?;
    let mut buffered = BufWriter::new(file);
    let size = writer(&mut buffered, df, metadata).finish(df)?;
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(size)
}

/// Rows per row group: polars' default, so that a table written in pieces has the row
/// groups of one written at once (and, when it fits in one, the same bytes).
pub const ROW_GROUP: usize = 512 * 512;

/// A Parquet file written a row group at a time, for a table too large to hold whole.
/// Frames pushed are gathered until they fill a row group, which is then handed to a thread
/// of its own that encodes and writes it while the caller makes the next: on a gigabyte of
/// projects, making the long table's rows and encoding them took about as long as each other.
pub struct RowGroups {
    /// Row groups on their way to the writing thread; at most one waits.
    groups: Option<std::sync::mpsc::SyncSender<DataFrame>>,
    writing: Option<std::thread::JoinHandle<PolarsResult<()>>>,
    pending: Vec<DataFrame>,
    pending_rows: usize,
    rows: usize,
}

impl RowGroups {
    /// A new file at `path`, with the columns of `like` and the given footer metadata.
    pub fn create(
        path: &Path,
        like: &DataFrame,
        metadata: &[(String, String)],
    ) -> PolarsResult<Self> {
        let file = File::create(path)?;
        let out = BufWriter::new(file.try_clone()?);
        let mut writer = writer(out, like, metadata).batched(like.schema())?;
        let (groups, received) = std::sync::mpsc::sync_channel::<DataFrame>(1);
        let writing = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn(move || -> PolarsResult<()> {
                for group in received {
                    writer.write_batch(&group)?;
                }
                writer.finish()?;
                drop(writer);
                file.sync_all()?;
                Ok(())
            })?;
        Ok(RowGroups {
            groups: Some(groups),
            writing: Some(writing),
            pending: Vec::new(),
            pending_rows: 0,
            rows: 0,
        })
    }

    /// Rows that still fit in the row group being gathered.
    pub fn room(&self) -> usize {
        ROW_GROUP - self.pending_rows
    }

    /// Adds rows; writes every row group they fill.
    pub fn push(&mut self, mut df: DataFrame) -> PolarsResult<()> {
        while df.height() > 0 {
            let take = df.height().min(self.room());
            let (head, tail) = df.split_at(take as i64);
            self.pending_rows += head.height();
            self.pending.push(head);
            df = tail;
            if self.pending_rows == ROW_GROUP {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes `df` as one row group of its own, after the rows gathered so far.
    pub fn push_group(&mut self, df: DataFrame) -> PolarsResult<()> {
        self.flush()?;
        self.pending_rows = df.height();
        self.pending.push(df);
        self.flush()
    }

    fn flush(&mut self) -> PolarsResult<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut pieces = std::mem::take(&mut self.pending).into_iter();
        let mut group = pieces.next().unwrap_or_default();
        for piece in pieces {
            group.vstack_mut_owned(piece)?;
        }
        group.rechunk_mut();
        let sent = self.groups.as_ref().map(|g| g.send(group));
        if !matches!(sent, Some(Ok(()))) {
            // The writing thread stopped: its error says why.
            return self
                .join()
                .and(Err(polars_err!(ComputeError: "the Parquet writer stopped")));
        }
        self.rows += self.pending_rows;
        self.pending_rows = 0;
        Ok(())
    }

    /// Waits for the writing thread to write what it was sent and the footer.
    fn join(&mut self) -> PolarsResult<()> {
        drop(self.groups.take());
        match self.writing.take().map(std::thread::JoinHandle::join) {
            Some(Ok(written)) => written,
            Some(Err(_)) => Err(polars_err!(ComputeError: "the Parquet writer panicked")),
            None => Ok(()),
        }
    }

    /// Writes the last row group and the footer. Returns the rows written.
    pub fn finish(mut self) -> PolarsResult<usize> {
        self.flush()?;
        self.join()?;
        Ok(self.rows)
    }
}

impl Drop for RowGroups {
    /// A table given up half-way (an error elsewhere) still lets its thread end.
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Reads a Parquet file back (for `cityimpact chart` and the tests).
pub fn read(path: &Path) -> PolarsResult<DataFrame> {
    ParquetReader::new(File::open(path)?).finish()
}

/// The rows of a Parquet file that `predicate` keeps, without reading the others into memory
/// (the long table of a city with millions of projects is mostly per-project rows).
pub fn read_where(path: &Path, predicate: Expr) -> PolarsResult<DataFrame> {
    LazyFrame::scan_parquet(PlRefPath::try_from_path(path)?, ScanArgsParquet::default())?
        .filter(predicate)
        .collect()
}

/// The footer's key-value metadata of a Parquet file (without the Arrow schema hint).
pub fn read_footer(path: &Path) -> PolarsResult<Vec<(String, String)>> {
    let mut file = File::open(path)?;
    let meta = polars_parquet::read::read_metadata(&mut file)?;
    Ok(meta
        .key_value_metadata()
        .iter()
        .flatten()
        .filter(|kv| kv.key != "ARROW:schema")
        .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(from: i64, n: usize) -> DataFrame {
        let x: Vec<i64> = (from..from + n as i64).collect();
        let s: Vec<String> = x.iter().map(|v| format!("row {v}")).collect();
        df!("x" => x, "s" => s).unwrap()
    }

    #[test]
    fn a_table_written_in_pieces_is_the_table_written_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let meta = vec![("k".to_string(), "v".to_string())];
        // Small: one row group either way, and the same bytes.
        let mut whole = frame(0, 10);
        write(&mut whole, &dir.path().join("whole.parquet"), &meta).unwrap();
        let mut groups =
            RowGroups::create(&dir.path().join("pieces.parquet"), &whole, &meta).unwrap();
        for (from, n) in [(0, 3), (3, 0), (3, 7)] {
            groups.push(frame(from, n)).unwrap();
        }
        assert_eq!(groups.finish().unwrap(), 10);
        let bytes = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        assert_eq!(bytes("whole.parquet"), bytes("pieces.parquet"));

        // Large: full row groups of ROW_GROUP rows, then the rest, in order.
        let path = dir.path().join("large.parquet");
        let mut groups = RowGroups::create(&path, &whole, &meta).unwrap();
        let n = ROW_GROUP + 500;
        for (from, len) in [
            (0, 100),
            (100, ROW_GROUP - 50),
            (ROW_GROUP as i64 + 50, 450),
        ] {
            groups.push(frame(from, len)).unwrap();
        }
        assert_eq!(groups.finish().unwrap(), n);
        let mut file = File::open(&path).unwrap();
        let meta_read = polars_parquet::read::read_metadata(&mut file).unwrap();
        let sizes: Vec<usize> = meta_read.row_groups.iter().map(|g| g.num_rows()).collect();
        assert_eq!(sizes, [ROW_GROUP, 500]);
        let back = read(&path).unwrap();
        assert!(back.equals(&frame(0, n)));
        assert_eq!(read_footer(&path).unwrap(), meta);

        // Given up half-way (another stage failed): dropping it ends its writing thread.
        let mut groups =
            RowGroups::create(&dir.path().join("dropped.parquet"), &whole, &meta).unwrap();
        groups.push(frame(0, ROW_GROUP + 1)).unwrap();
        drop(groups);
    }
}
