//! One run per output folder at a time: an OS advisory lock on a file beside the folder,
//! released by the OS when the process ends, however it ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::RunError;

/// An advisory lock on the output folder, held for the run and released by the OS when the
/// process ends, however it ends.
pub struct Lock {
    _file: File,
}

impl Lock {
    /// The lock file sits beside the output folder, so that publishing (which swaps the folder)
    /// does not move it.
    pub fn path(out: &Path) -> PathBuf {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        parent.join(format!(".{name}.lock"))
    }

    /// Takes the lock, waiting up to `wait` for another run to finish (polling; an advisory
    /// lock has no portable blocking call with a timeout).
    pub fn acquire_waiting(out: &Path, wait: Option<Duration>) -> Result<Lock, RunError> {
        let deadline = Instant::now() + wait.unwrap_or_default();
        loop {
            match Self::acquire(out) {
                Err(RunError::Locked { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    pub fn acquire(out: &Path) -> Result<Lock, RunError> {
        let path = Self::path(out);
        let write_err = |source| RunError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_err)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(write_err)?;
        match file.try_lock() {
            Ok(()) => {
                let note = format!(
                    "pid {} started {}\n",
                    std::process::id(),
                    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                file.set_len(0).map_err(write_err)?;
                file.rewind().map_err(write_err)?;
                file.write_all(note.as_bytes()).map_err(write_err)?;
                Ok(Lock { _file: file })
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                Err(RunError::Locked {
                    out: out.to_path_buf(),
                    holder: if holder.is_empty() {
                        "unknown holder".into()
                    } else {
                        holder.to_string()
                    },
                })
            }
            Err(TryLockError::Error(e)) => Err(write_err(e)),
        }
    }
}
