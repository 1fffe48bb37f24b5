//! Atomic publishing: a run writes into a staging folder beside the output folder, and only a
//! finished run swaps it into place. A run that fails or is killed leaves the last good outputs
//! untouched; readers never see a half-written set.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Staging folders in use, so that a signal handler can remove them before the process
/// stops (destructors do not run on `exit`).
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    STAGING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every staging folder of this process. For signal handlers.
pub fn remove_staging() {
    for dir in registry().drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A staging folder beside the output folder. Dropping it without [`Staging::publish`] removes
/// it and everything in it.
pub struct Staging {
    dir: tempfile::TempDir,
    out: PathBuf,
}

impl Staging {
    pub fn new(out: &Path) -> io::Result<Staging> {
        let parent = parent_of(out);
        std::fs::create_dir_all(&parent)?;
        // The caller holds the lock on this output folder (see `remove_stale`).
        remove_stale(out)?;
        let dir = tempfile::Builder::new()
            .prefix(&staging_prefix(out))
            .tempdir_in(&parent)?;
        std::fs::create_dir(dir.path().join("charts"))?;
        registry().push(dir.path().to_path_buf());
        Ok(Staging {
            dir,
            out: out.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Moves the staged outputs into place in one step (Linux: renameat2 with
    /// RENAME_EXCHANGE), then removes the previous outputs.
    pub fn publish(self) -> io::Result<()> {
        registry().retain(|p| p != self.dir.path());
        // tempfile makes the folder 0700; outputs are for other users too (replace_dir).
        replace_dir(&self.dir.keep(), &self.out)
    }
}

/// Whether `out` may be replaced by a run: it does not exist, it is an empty folder, or it holds
/// what cityimpact wrote there before. Publishing swaps the whole folder, so anything else in
/// it would be lost; this says why instead.
pub fn check_replaceable(out: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot look at it: {e}")),
        Ok(m) => m,
    };
    if !meta.is_dir() {
        return Err("it exists and is not a folder".into());
    }
    let entries: Vec<String> = std::fs::read_dir(out)
        .map_err(|e| format!("cannot list it: {e}"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if entries.is_empty() || holds_our_outputs(out) {
        return Ok(());
    }
    let mut shown: Vec<&str> = entries.iter().map(String::as_str).collect();
    shown.sort_unstable();
    let more = shown.len().saturating_sub(3);
    shown.truncate(3);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    Err(format!(
        "it holds files that cityimpact did not write ({}{more}), and publishing replaces the whole folder",
        shown.join(", ")
    ))
}

/// A folder holds cityimpact's outputs when its manifest says so, or, after runs that failed
/// before anything was published, when its only file is cityimpact's run history.
pub fn holds_our_outputs(dir: &Path) -> bool {
    if let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) {
        if let Ok(m) = serde_json::from_str::<serde_json::Value>(&text) {
            return m["cityimpact"].is_string()
                && m["contract"].is_string()
                && m["run_id"].is_string();
        }
        return false;
    }
    let only_history = std::fs::read_dir(dir)
        .is_ok_and(|entries| entries.flatten().all(|e| e.file_name() == "runs.parquet"));
    only_history
        && crate::output::parquet::read(&dir.join("runs.parquet"))
            .is_ok_and(|df| df.column("cityimpact_version").is_ok())
}

fn staging_prefix(out: &Path) -> String {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    format!(".{name}.staging-")
}

/// Removes staging folders that killed runs left beside `out`. A run killed with SIGKILL
/// cannot clean up after itself; call this only while holding the output folder's lock, so
/// that no other run is using them.
pub fn remove_stale(out: &Path) -> io::Result<()> {
    let parent = parent_of(out);
    if !parent.exists() {
        return Ok(());
    }
    let prefix = staging_prefix(out);
    for entry in std::fs::read_dir(&parent)?.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// Puts the finished folder `staged` in the place of `target` in one step, then removes what
/// was there before (if anything).
pub fn replace_dir(staged: &Path, target: &Path) -> io::Result<()> {
    set_readable(staged)?;
    if !target.exists() {
        return std::fs::rename(staged, target);
    }
    exchange(staged, target)?;
    std::fs::remove_dir_all(staged)
}

fn parent_of(out: &Path) -> PathBuf {
    match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(unix)]
fn set_readable(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_readable(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        // Some file systems cannot exchange; fall back to two renames.
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {
            two_renames(a, b)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    two_renames(a, b)
}

/// Swap by way of a third name; a crash between the two renames leaves the previous outputs
/// complete under that name.
fn two_renames(a: &Path, b: &Path) -> io::Result<()> {
    let mut old = b.as_os_str().to_owned();
    old.push(".previous");
    let old = PathBuf::from(old);
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    std::fs::rename(b, &old)?;
    std::fs::rename(a, b)?;
    std::fs::rename(&old, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_replaces_the_previous_outputs_whole() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let s = Staging::new(&out).unwrap();
        std::fs::write(s.path().join("a.txt"), "first").unwrap();
        s.publish().unwrap();
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "first");

        let s = Staging::new(&out).unwrap();
        std::fs::write(s.path().join("b.txt"), "second").unwrap();
        s.publish().unwrap();
        assert!(!out.join("a.txt").exists(), "old files must not linger");
        assert_eq!(
            std::fs::read_to_string(out.join("b.txt")).unwrap(),
            "second"
        );
        // Nothing but the output folder is left beside it.
        let names: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out")]);
    }

    #[test]
    fn an_abandoned_staging_folder_leaves_the_outputs_alone() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let s = Staging::new(&out).unwrap();
        std::fs::write(s.path().join("a.txt"), "good").unwrap();
        s.publish().unwrap();
        let s = Staging::new(&out).unwrap();
        std::fs::write(s.path().join("a.txt"), "half").unwrap();
        drop(s); // a failed run
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "good");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
