//! A source's files read once: their bytes (decoded to UTF-8 where the source declares
//! another encoding) and their BLAKE3. A large text file is only hashed here and left on
//! disk for its reader (see `disk`).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::config::{Encoding, Format, Source};

use super::disk::{self, Disk};
use super::{csv, digest, is_json, is_json_file, sheet, IngestError};

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
    pub content: Content,
    pub blake3: String,
}

/// A file's bytes, or what it looked like when a large one was hashed and left on disk.
pub enum Content {
    Bytes(Vec<u8>),
    Disk(Disk),
}

impl LoadedFile {
    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        match &self.content {
            Content::Bytes(b) => b.len() as u64,
            Content::Disk(d) => d.len,
        }
    }

    /// The file's bytes, when they were read into memory.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.content {
            Content::Bytes(b) => Some(b),
            Content::Disk(_) => None,
        }
    }
}

fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

pub fn load(source: &Source) -> Result<Loaded, IngestError> {
    if !is_glob(&source.path) {
        let (content, blake3) = load_file(source)?;
        return Ok(Loaded {
            files: vec![LoadedFile {
                path: source.path.clone(),
                resolved: source.resolved.clone(),
                content,
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
        let (content, blake3) = load_file(&one)?;
        let name = resolved
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push(LoadedFile {
            path: dir.join(name).to_string_lossy().into_owned(),
            resolved,
            content,
            blake3,
        });
    }
    Ok(Loaded { files })
}

fn load_file(source: &Source) -> Result<(Content, String), IngestError> {
    if let Some(left) = left_on_disk(source, disk::LARGE).map_err(|e| csv::io_error(source, e))? {
        return Ok(left);
    }
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
    Ok((Content::Bytes(bytes), blake3))
}

/// A file in columns of UTF-8 text of `large` bytes or more, hashed and left on disk for the
/// CSV reader; `None` for any other file, which is read into memory. Its hash is taken again if the file
/// changes while it is hashed (a publisher's copy still being written, say).
fn left_on_disk(source: &Source, large: u64) -> std::io::Result<Option<(Content, String)>> {
    let text_columns = matches!(
        source.format,
        Format::Csv | Format::Tsv | Format::SdmxCsv | Format::Giving360 | Format::Ocds
    );
    if !text_columns || !matches!(source.encoding, Encoding::Default | Encoding::Utf8) {
        return Ok(None);
    }
    let file = File::open(&source.resolved)?;
    let before = Disk::of(&file)?;
    if before.len < large || before.len == 0 {
        return Ok(None);
    }
    let mut head = vec![0u8; 4096.min(before.len as usize)];
    disk::read_exact_at(&file, &mut head, 0)?;
    if is_json(&head) || sheet::is_spreadsheet(&head) {
        return Ok(None);
    }
    let mut before = before;
    for _ in 0..3 {
        let hash = digest::blake3_of(&file, before.len)?;
        let after = Disk::of(&file)?;
        if after == before {
            return Ok(Some((Content::Disk(before), hash.to_hex().to_string())));
        }
        before = after;
    }
    Err(disk::changed())
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
    use super::*;

    /// A text file left on disk has the hash of its bytes and reads as the same table as
    /// when it is read into memory; JSON and spreadsheets never are left on disk.
    #[test]
    fn a_large_text_file_is_hashed_and_read_from_disk() {
        let (_dir, pipeline) = crate::config::one_source("projects");
        let source = &pipeline.sources[0];
        let mut csv = String::from("\u{FEFF}id,area,amount,start,title\r\n");
        for i in 0..2000 {
            csv.push_str(&format!(
                "P{i},D{},{i}.5,2021-01-01,\"t\r\n{i}\"\r\n",
                i % 7
            ));
        }
        std::fs::write(&source.resolved, &csv).unwrap();
        let Some((Content::Disk(disk), hash)) = left_on_disk(source, 0).unwrap() else {
            panic!("a CSV from 0 bytes on is left on disk")
        };
        assert_eq!(hash, blake3::hash(csv.as_bytes()).to_hex().as_str());
        assert_eq!(disk.len, csv.len() as u64);
        let from_disk = super::super::parse(source, &loaded(source, Content::Disk(disk)));
        let in_memory = loaded(source, Content::Bytes(csv.into_bytes()));
        let (a, b) = (
            from_disk.unwrap(),
            super::super::parse(source, &in_memory).unwrap(),
        );
        assert_eq!((a.len(), a.bytes), (2000, b.bytes));
        assert_eq!(
            a.lines.iter().collect::<Vec<_>>(),
            b.lines.iter().collect::<Vec<_>>()
        );
        for r in 0..a.roles.len() {
            for i in [0, 1, 999, 1999] {
                assert_eq!(
                    a.cells[r].text(i),
                    b.cells[r].text(i),
                    "{} row {i}",
                    a.roles[r]
                );
            }
        }
        for head in [&b"[{\"id\": 1}]"[..], b"PK\x03\x04rest of a workbook"] {
            std::fs::write(&source.resolved, head).unwrap();
            assert!(left_on_disk(source, 0).unwrap().is_none());
        }
    }

    fn loaded(source: &Source, content: Content) -> Loaded {
        Loaded {
            files: vec![LoadedFile {
                path: source.path.clone(),
                resolved: source.resolved.clone(),
                content,
                blake3: String::new(),
            }],
        }
    }

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
