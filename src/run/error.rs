//! Why a run stopped, the exit code each reason maps to, and what the user can do about it.

use std::path::{Path, PathBuf};

use polars::prelude::PolarsError;

use crate::charts::ChartError;
use crate::config::ConfigError;
use crate::indicators;
use crate::ingest::IngestError;

/// Why a run stopped. Each variant maps to one exit code of the output contract.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("another run holds the lock on {}: {holder}", out.display())]
    Locked { out: PathBuf, holder: String },
    #[error("data checks failed; outputs were not published:\n{}", failures.join("\n"))]
    Checks { failures: Vec<String> },
    #[error("stage {stage} failed: {source}")]
    Stage {
        stage: String,
        #[source]
        source: PolarsError,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Chart(#[from] ChartError),
    #[error("cannot write the indicators table: {0}")]
    Table(#[from] indicators::TableError),
    #[error("will not publish into {}: {why}", out.display())]
    NotOurFolder { out: PathBuf, why: String },
    #[error(transparent)]
    Custom(#[from] indicators::custom::CustomError),
    #[error(transparent)]
    Pdf(#[from] crate::report::pdf::PdfError),
}

impl RunError {
    /// The exit code of the output contract.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Config(_) | RunError::NotOurFolder { .. } => 2,
            RunError::Custom(e) if e.is_config() => 2,
            RunError::Ingest(e) if e.is_config() => 2,
            RunError::Checks { .. } => 3,
            RunError::Locked { .. } => 4,
            _ => 1,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Config(e) => e.hint().map(String::from),
            RunError::Ingest(e) => Some(e.hint()),
            RunError::Locked { .. } => Some("wait for it to finish, or run with another --out".into()),
            RunError::Checks { .. } => Some(
                "fix the rows named above (the first reject of each source is shown), or raise [checks] max_reject_share"
                    .into(),
            ),
            RunError::Stage { .. } => Some("this is likely a bug in cityimpact; please report it with the pipeline file".into()),
            RunError::Write { .. } => Some("check free space and permissions on the output folder".into()),
            RunError::Chart(_) => None,
            RunError::Pdf(e) => Some(e.hint().into()),
            RunError::Custom(e) => e.hint(),
            RunError::Table(indicators::TableError::Duplicate { .. }) => Some(
                "two sources give the same indicator for the same area and period; keep one of them, or give one source's areas other codes"
                    .into(),
            ),
            RunError::Table(_) => Some("this is likely a bug in cityimpact; please report it with the pipeline file".into()),
            RunError::NotOurFolder { .. } => Some(
                "name a folder that does not exist yet, an empty one, or one that holds an earlier cityimpact output (--out, or `out =` in [pipeline])"
                    .into(),
            ),
        }
    }
}

/// A polars error in `stage`, for `map_err`.
pub(super) fn stage_err(stage: &str) -> impl Fn(PolarsError) -> RunError {
    let stage = stage.to_string();
    move |source| RunError::Stage {
        stage: stage.clone(),
        source,
    }
}

/// An error writing `path`, for `map_err`.
pub(super) fn write_err(path: &Path) -> impl Fn(std::io::Error) -> RunError {
    let path = path.to_path_buf();
    move |source| RunError::Write {
        path: path.clone(),
        source,
    }
}
