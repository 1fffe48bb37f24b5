//! A source's files read once: their bytes (decoded to UTF-8 where the source declares
//! another encoding) and their BLAKE3.

use std::path::{Path, PathBuf};

use crate::config::{Encoding, Source};

use super::{csv, is_json_file, IngestError};

/// A source's files, read once: their bytes, for parsing, and their BLAKE3, for provenance
/// and for deciding whether anything changed since the last run. A glob in `path` gives
/// several files, read as one source (one file per year, say).
pub struct Loaded {
    pub files: Vec<LoadedFile>,
}

pub struct LoadedFile {
    /// As the pipeline would name it (relative to the pipeline file's folder).
    pub path: String,
    pub resolved: PathBuf,
    pub bytes: Vec<u8>,
    pub blake3: String,
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

pub fn load(source: &Source) -> Result<Loaded, IngestError> {
    if !is_glob(&source.path) {
        let (bytes, blake3) = load_file(source)?;
        return Ok(Loaded {
            files: vec![LoadedFile {
                path: source.path.clone(),
                resolved: source.resolved.clone(),
                bytes,
                blake3,
            }],
        });
    }
    let pattern = source.resolved.to_string_lossy().into_owned();
    let mut paths: Vec<PathBuf> = glob::glob(&pattern)
        .map_err(|e| IngestError::Io {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
            error: std::io::Error::other(format!("`{}` is not a valid glob: {e}", source.path)),
        })?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(IngestError::Missing {
            source_name: source.name.clone(),
            path: source.resolved.clone(),
        });
    }
    let dir = Path::new(&source.path)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut files = Vec::new();
    for resolved in paths {
        let one = Source {
            resolved: resolved.clone(),
            ..source.clone()
        };
        let (bytes, blake3) = load_file(&one)?;
        let name = resolved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push(LoadedFile {
            path: dir.join(name).to_string_lossy().into_owned(),
            resolved,
            bytes,
            blake3,
        });
    }
    Ok(Loaded { files })
}

fn load_file(source: &Source) -> Result<(Vec<u8>, String), IngestError> {
    let raw = csv::load(source)?;
    // The hash is of the file as published; parsing sees it as UTF-8.
    // On all cores: for a large file hashing is a third of the time it takes to load.
    let blake3 = blake3::Hasher::new()
        .update_rayon(&raw)
        .finalize()
        .to_hex()
        .to_string();
    let bytes = match source.encoding {
        Encoding::Default if is_json_file(source, &raw) && std::str::from_utf8(&raw).is_err() => {
            let at = std::str::from_utf8(&raw)
                .err()
                .map_or(0, |e| e.valid_up_to());
            tracing::warn!(
                "source `{}`: {} is not UTF-8 (byte {at}, 0x{:02X}); read as Windows-1252. Declare encoding = \"latin-1\" or \"windows-1252\" in [sources.{}] to say so",
                source.name,
                source.resolved.display(),
                raw.get(at).copied().unwrap_or(0),
                source.name
            );
            raw.iter()
                .map(|&b| windows_1252(b))
                .collect::<String>()
                .into_bytes()
        }
        Encoding::Default | Encoding::Utf8 => raw,
        Encoding::Latin1 => raw
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
            .into_bytes(),
        Encoding::Windows1252 => raw
            .iter()
            .map(|&b| windows_1252(b))
            .collect::<String>()
            .into_bytes(),
    };
    Ok((bytes, blake3))
}

/// Windows-1252 differs from Latin-1 in 0x80-0x9F only; the five bytes it leaves undefined
/// map to the same code points, as the WHATWG Encoding Standard does.
pub(super) fn windows_1252(b: u8) -> char {
    const HIGH: [u32; 32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
        0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => {
            char::from_u32(HIGH[(b - 0x80) as usize]).unwrap_or(char::REPLACEMENT_CHARACTER)
        }
        _ => b as char,
    }
}

#[cfg(test)]
mod tests {
    use super::windows_1252;

    #[test]
    fn windows_1252_high_bytes() {
        // The euro sign, curly quotes and dashes that Excel on Windows writes.
        assert_eq!(windows_1252(0x80), '€');
        assert_eq!(windows_1252(0x93), '“');
        assert_eq!(windows_1252(0x96), '–');
        assert_eq!(windows_1252(0xE9), 'é');
        assert_eq!(windows_1252(b'a'), 'a');
    }
}
