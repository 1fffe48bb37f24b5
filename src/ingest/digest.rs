//! A large file's BLAKE3, read from disk in subtrees side by side, so that hashing a file
//! does not mean holding it. BLAKE3 is a tree: a subtree's chaining value depends only on its
//! bytes and its offset, so each core reads and hashes subtrees of its own through a small
//! buffer, and the values are merged as the tree's parent nodes would be.

use std::fs::File;
use std::io;

use blake3::hazmat::{
    merge_subtrees_non_root, merge_subtrees_root, ChainingValue, HasherExt, Mode,
};
use blake3::{Hasher, CHUNK_LEN};

/// Subtrees up to this size are read by one core.
const LEAF: u64 = 16 << 20;

/// Each core reads through a buffer of this size, which stays in its cache.
const BUFFER: usize = 256 << 10;

/// The BLAKE3 of the first `len` bytes of `file`, as `blake3::hash` of them gives it.
pub fn blake3_of(file: &File, len: u64) -> io::Result<blake3::Hash> {
    hash_in_leaves(file, len, LEAF)
}

fn hash_in_leaves(file: &File, len: u64, leaf: u64) -> io::Result<blake3::Hash> {
    if len <= CHUNK_LEN as u64 {
        let mut hasher = Hasher::new();
        read_into(file, 0, len, |bytes| {
            hasher.update(bytes);
        })?;
        return Ok(hasher.finalize());
    }
    let mid = left_len(len);
    let (left, right) = rayon::join(
        || subtree(file, 0, mid, leaf),
        || subtree(file, mid, len, leaf),
    );
    Ok(merge_subtrees_root(&left?, &right?, Mode::Hash))
}

/// The chaining value of the subtree over `start..end`, which the recursion keeps a subtree of
/// BLAKE3's tree: `start` is a multiple of its left part's size.
fn subtree(file: &File, start: u64, end: u64, leaf: u64) -> io::Result<ChainingValue> {
    let len = end - start;
    if len <= leaf || len <= CHUNK_LEN as u64 {
        let mut hasher = Hasher::new();
        hasher.set_input_offset(start);
        read_into(file, start, end, |bytes| {
            hasher.update(bytes);
        })?;
        return Ok(hasher.finalize_non_root());
    }
    let mid = start + left_len(len);
    let (left, right) = rayon::join(
        || subtree(file, start, mid, leaf),
        || subtree(file, mid, end, leaf),
    );
    Ok(merge_subtrees_non_root(&left?, &right?, Mode::Hash))
}

/// The size of a tree's left subtree over `len` bytes: the largest power of two chunks that
/// leaves at least one byte to the right (BLAKE3 paper, section 2.1).
fn left_len(len: u64) -> u64 {
    let full_chunks = (len - 1) / CHUNK_LEN as u64;
    (1u64 << full_chunks.ilog2()) * CHUNK_LEN as u64
}

/// Hands `start..end` of the file to `each`, a buffer at a time.
fn read_into(file: &File, start: u64, end: u64, mut each: impl FnMut(&[u8])) -> io::Result<()> {
    let mut buffer = vec![0u8; BUFFER.min((end - start) as usize)];
    let mut at = start;
    while at < end {
        let n = BUFFER.min((end - at) as usize);
        super::disk::read_exact_at(file, &mut buffer[..n], at)?;
        each(&buffer[..n]);
        at += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the crate's own hash, for sizes around chunk and leaf boundaries, with leaves
    /// small enough that the tree is split many times.
    #[test]
    fn hashes_as_blake3_does() {
        let dir = tempfile::tempdir().unwrap();
        let c = CHUNK_LEN;
        for len in [
            0,
            1,
            c - 1,
            c,
            c + 1,
            2 * c,
            3 * c + 7,
            8 * c,
            8 * c + 1,
            37 * c + 100,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let file = File::open(&path).unwrap();
            for leaf in [c as u64, 2 * c as u64, 5 * c as u64, LEAF] {
                let got = hash_in_leaves(&file, len as u64, leaf).unwrap();
                assert_eq!(got, blake3::hash(&bytes), "{len} bytes, leaves of {leaf}");
            }
        }
    }
}
