//! A large text file left on disk: hashed, then parsed, each reading it through small buffers
//! side by side, instead of holding the whole file in memory between the two (571 MB for
//! 10 M persons, 1 GB for the project benchmark). The file's size and modification time,
//! taken before the hash, vouch that the parse reads the bytes that were hashed; a file that
//! changes under the run stops it rather than be recorded under the wrong hash.

use std::fs::File;
use std::io;
use std::time::SystemTime;

/// Text files from this size on are left on disk.
pub const LARGE: u64 = 64 << 20;

/// What a file looked like when it was hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl Disk {
    pub fn of(file: &File) -> io::Result<Disk> {
        let meta = file.metadata()?;
        Ok(Disk {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }

    /// An error when the open `file` is no longer the one that was hashed.
    pub fn still(&self, file: &File) -> io::Result<()> {
        if Disk::of(file)? == *self {
            Ok(())
        } else {
            Err(changed())
        }
    }
}

pub fn changed() -> io::Error {
    io::Error::other(
        "the file changed while cityimpact read it; nothing was written: run again once it is complete",
    )
}

/// Fills `buffer` from `at` in the file; a file cut short gives an error, never a signal.
pub fn read_exact_at(file: &File, buffer: &mut [u8], at: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buffer, at)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buffer.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut buffer[done..],
                at + done as u64,
            )?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
        Ok(())
    }
}
