//! The contract's outputs (shared/design/contract.md): Parquet tables with provenance in their
//! footers, `manifest.json`, `datapackage.json`, and the atomic publish of the whole set.

pub mod datapackage;
pub mod manifest;
pub mod parquet;
pub mod publish;

use std::path::Path;

use polars::prelude::*;
use serde::Serialize;

/// The version of the output contract these files follow.
pub const CONTRACT_VERSION: &str = "1";

/// What every output records about where it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub version: String,
    pub pipeline_name: String,
    pub pipeline_hash: String,
    /// Derived from the tool version, pipeline and input hashes, never from the clock, so the
    /// same inputs give byte-identical files.
    pub run_id: String,
    pub inputs: Vec<InputFile>,
}

/// One input file.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    pub source: String,
    pub path: String,
    pub bytes: u64,
    pub blake3: String,
}

impl Provenance {
    pub fn new(
        version: &str,
        pipeline_name: &str,
        pipeline_hash: &str,
        inputs: Vec<InputFile>,
    ) -> Self {
        let mut h = blake3::Hasher::new();
        for part in [version, pipeline_name, pipeline_hash] {
            h.update(part.as_bytes());
            h.update(&[0]);
        }
        for i in &inputs {
            h.update(i.blake3.as_bytes());
            h.update(&[0]);
        }
        Provenance {
            version: version.to_string(),
            pipeline_name: pipeline_name.to_string(),
            pipeline_hash: pipeline_hash.to_string(),
            run_id: h.finalize().to_hex()[..16].to_string(),
            inputs,
        }
    }

    /// The `cityimpact.*` key-value metadata of every Parquet file.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let inputs: Vec<serde_json::Value> = self
            .inputs
            .iter()
            .map(|i| serde_json::json!({ "source": i.source, "path": i.path, "blake3": i.blake3 }))
            .collect();
        vec![
            ("cityimpact.version".into(), self.version.clone()),
            ("cityimpact.contract".into(), CONTRACT_VERSION.into()),
            (
                "cityimpact.pipeline".into(),
                serde_json::json!({ "name": self.pipeline_name, "blake3": self.pipeline_hash })
                    .to_string(),
            ),
            ("cityimpact.run_id".into(), self.run_id.clone()),
            (
                "cityimpact.inputs".into(),
                serde_json::Value::from(inputs).to_string(),
            ),
        ]
    }
}

/// Writes one table into `dir` with the provenance and any extra metadata.
pub fn write_table(
    dir: &Path,
    file: &str,
    df: &mut DataFrame,
    provenance: &Provenance,
    extra: Vec<(String, String)>,
) -> PolarsResult<u64> {
    let mut meta = provenance.metadata();
    meta.extend(extra);
    parquet::write(df, &dir.join(file), &meta)
}

/// Hex BLAKE3 of a file, read in a stream.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut hasher = blake3::Hasher::new();
    let mut file = std::fs::File::open(path)?;
    let bytes = std::io::copy(&mut file, &mut hasher)?;
    Ok((bytes, hasher.finalize().to_hex().to_string()))
}

/// Writes JSON with a trailing newline, pretty-printed for people.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let mut text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}
