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

/// Writes `df` to `path` with the given footer metadata. Returns the file's size.
pub fn write(df: &mut DataFrame, path: &Path, metadata: &[(String, String)]) -> PolarsResult<u64> {
    let mut kv = vec![plain_arrow_hint(df)];
    kv.extend(metadata.iter().map(|(k, v)| KeyValue {
        key: k.clone(),
        value: Some(v.clone()),
    }));
    let file = File::create(path)?;
    let mut writer = BufWriter::new(file);
    let size = ParquetWriter::new(&mut writer)
        .with_compression(ParquetCompression::Zstd(None))
        .with_statistics(StatisticsOptions::full())
        .with_key_value_metadata(Some(KeyValueMetadata::Static(kv)))
        .finish(df)?;
    let file = writer.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(size)
}

/// Reads a Parquet file back (for `cityimpact chart` and the tests).
pub fn read(path: &Path) -> PolarsResult<DataFrame> {
    ParquetReader::new(File::open(path)?).finish()
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
