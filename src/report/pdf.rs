//! `report.pdf`: the report printed by headless Chromium, for those who print. Chromium is
//! found through `CITYIMPACT_CHROMIUM`, else on `PATH` by its usual names; without it the error
//! says how to install it, and `report.html` stays printable from any browser.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long Chromium may take to print the report.
const TIMEOUT: Duration = Duration::from_secs(180);

/// The names Chromium goes by on Linux distributions, macOS installs and Chrome.
const NAMES: [&str; 5] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
];

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("no headless Chromium to print the PDF with{}", .tried.as_ref().map(|p| format!(" (CITYIMPACT_CHROMIUM is {}, which is not a file)", p.display())).unwrap_or_default())]
    NoBrowser { tried: Option<PathBuf> },
    #[error("{} could not print {}: {message}", browser.display(), html.display())]
    Failed {
        browser: PathBuf,
        html: PathBuf,
        message: String,
    },
}

impl PdfError {
    pub fn hint(&self) -> &'static str {
        match self {
            PdfError::NoBrowser { .. } => "install Chromium (`apt-get install chromium`, `brew install --cask chromium`) or set CITYIMPACT_CHROMIUM to its path; report.html in the folder prints from any browser",
            PdfError::Failed { .. } => "report.html in the folder prints from any browser; run with -v to see Chromium's messages",
        }
    }
}

/// The Chromium to print with.
pub fn browser() -> Result<PathBuf, PdfError> {
    if let Some(p) = std::env::var_os("CITYIMPACT_CHROMIUM") {
        let p = PathBuf::from(p);
        return match p.is_file() {
            true => Ok(p),
            false => Err(PdfError::NoBrowser { tried: Some(p) }),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| NAMES.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
        .ok_or(PdfError::NoBrowser { tried: None })
}

/// Prints `html` to `pdf` (A4, the report's print styles, no browser header or footer).
pub fn print(browser: &Path, html: &Path, pdf: &Path) -> Result<(), PdfError> {
    let failed = |message: String| PdfError::Failed {
        browser: browser.to_path_buf(),
        html: html.to_path_buf(),
        message,
    };
    let html_abs = std::fs::canonicalize(html).map_err(|e| failed(e.to_string()))?;
    // A profile of its own, so that a running browser of the user's is neither used nor locked.
    let profile = tempfile::tempdir().map_err(|e| failed(e.to_string()))?;
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-pdf-header-footer",
            "--run-all-compositor-stages-before-draw",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html_abs.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| failed(e.to_string()))? {
            break s;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!("no PDF after {} s", TIMEOUT.as_secs())));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read as _;
        let _ = e.read_to_string(&mut stderr);
    }
    tracing::debug!("chromium: {}", stderr.trim());
    let is_pdf = std::fs::read(pdf).is_ok_and(|b| b.starts_with(b"%PDF-"));
    if !status.success() || !is_pdf {
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(failed(format!("exit {status}, no PDF written; {last}")));
    }
    Ok(())
}
