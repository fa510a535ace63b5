//! Reading the files of a plugin directory: regular files only, under a size cap checked
//! before reading, so that a FIFO cannot hang the operator, a device cannot feed it forever,
//! and a huge file cannot exhaust its memory.
//!
//! Symlinks are followed: Kubernetes mounts ConfigMaps (the chart's `plugins.json`) and
//! projected volumes as symlinks into a `..data` directory, so refusing them would refuse
//! every real deployment. The target must still be a regular file under the cap, and a
//! component's bytes must still match its sha256 pin, so a symlink gains an attacker nothing
//! a regular file would not.

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::Path;

/// Cap on a component file. The JavaScript `aks` plugin, which embeds a whole engine, is
/// 12 MB; Rust plugins are about 100 KiB.
pub const MAX_COMPONENT_BYTES: u64 = 64 << 20;
/// Cap on `plugins.json`.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Why a plugin directory's file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("it is {kind}, not a regular file")]
    NotRegular { kind: &'static str },
    #[error("it has {size} bytes, more than the limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads `path` (following symlinks) when it is a regular file of at most `limit` bytes.
pub(crate) fn read_regular_file(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    // Checked before opening: opening a FIFO for reading blocks until a writer comes.
    check(&std::fs::metadata(path)?, limit)?;
    let file = open_without_blocking(path)?;
    // Checked again on the open file, in case the path was swapped in between.
    let size = check(&file.metadata()?, limit)?;
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // A file that grows after the check is still read only up to the limit, plus one byte
    // to notice it.
    file.take(limit + 1).read_to_end(&mut bytes)?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read > limit {
        return Err(FileError::TooLarge { size: read, limit });
    }
    Ok(bytes)
}

fn check(metadata: &Metadata, limit: u64) -> Result<u64, FileError> {
    let kind = file_kind(metadata);
    if kind != "a regular file" {
        return Err(FileError::NotRegular { kind });
    }
    if metadata.len() > limit {
        return Err(FileError::TooLarge { size: metadata.len(), limit });
    }
    Ok(metadata.len())
}

fn file_kind(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_NONBLOCK: a FIFO swapped in after the check opens at once instead of hanging; the
    // check on the open file then refuses it. Reads of regular files ignore the flag.
    const O_NONBLOCK: i32 = 0o4000;
    OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).open(path)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn a_regular_file_under_the_cap_is_read_through_a_symlink_too() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plugin.wasm");
        std::fs::write(&file, b"bytes").unwrap();
        assert_eq!(read_regular_file(&file, 5).unwrap(), b"bytes");
        let link = dir.path().join("link.wasm");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_regular_file(&link, 5).unwrap(), b"bytes");
    }

    #[test]
    fn a_file_over_the_cap_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.wasm");
        // Sparse: the size is checked from the metadata, nothing is read.
        File::create(&file).unwrap().set_len(MAX_COMPONENT_BYTES + 1).unwrap();
        let error = read_regular_file(&file, MAX_COMPONENT_BYTES).unwrap_err();
        assert!(matches!(error, FileError::TooLarge { size, .. } if size == MAX_COMPONENT_BYTES + 1), "{error}");
    }

    #[test]
    fn fifos_devices_and_directories_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.wasm");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let link_to_fifo = dir.path().join("link.wasm");
        std::os::unix::fs::symlink(&fifo, &link_to_fifo).unwrap();
        for (path, kind) in [
            (fifo.as_path(), "a FIFO"),
            (link_to_fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a device"),
            (dir.path(), "a directory"),
        ] {
            let error = read_regular_file(path, MAX_COMPONENT_BYTES).unwrap_err();
            assert!(matches!(error, FileError::NotRegular { kind: k } if k == kind), "{}: {error}", path.display());
        }
    }
}
