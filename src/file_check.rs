//! Opening the files the tool reads: each must be a regular file (a symbolic link to one is
//! fine) of a plausible size, checked on the open descriptor before a byte is read, so a link to
//! `/dev/zero`, a FIFO, a socket or a device is refused with its kind named instead of hanging
//! or filling memory, and a file larger than its kind can be is refused before it is allocated.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest JSON file read (manifests, `split.json`, run configs, sidecars, reports).
pub const MAX_JSON: u64 = 1 << 30;
/// Largest tensor file read whole (a run's `head.safetensors`/`optimizer.safetensors`, a shard).
pub const MAX_TENSORS: u64 = 64 << 30;
/// Largest model file read (`.onnx` backbones and exported classifiers).
pub const MAX_MODEL: u64 = 64 << 30;
/// Largest image file read (decoding has its own pixel limit, `image_io::MAX_PIXELS`).
pub const MAX_IMAGE: u64 = 2 << 30;

/// What a non-regular file is, for the message.
fn kind(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a folder"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device (such as /dev/zero)"
    } else if ft.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file of at most `max` bytes; returns the file and
/// its size. The open never blocks (`O_NONBLOCK`, which does not affect regular files), so a FIFO
/// is refused at once; the check is made on the opened descriptor, not on the name.
pub fn open(path: &Path, max: u64) -> std::io::Result<(std::fs::File, u64)> {
    // The name first (a socket cannot be opened at all), then the descriptor (the name may have
    // been swapped in between).
    check(&std::fs::metadata(path)?, max)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    check(&meta, max)?;
    Ok((file, meta.len()))
}

fn check(meta: &std::fs::Metadata, max: u64) -> std::io::Result<()> {
    if !meta.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "not a regular file but {}; give the path of the real file",
                kind(meta.file_type())
            ),
        ));
    }
    if meta.len() > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "the file has {} bytes, more than the {max} a file of its kind can plausibly have; is it the right file?",
                meta.len()
            ),
        ));
    }
    Ok(())
}

/// Reads `path` whole after [`open`]'s checks; never reads more than `max` bytes even if the file
/// grows meanwhile.
pub fn read(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let (file, len) = open(path, max)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the file grew past {max} bytes while being read"),
        ));
    }
    Ok(bytes)
}

/// [`read`] as UTF-8 text.
pub fn read_to_string(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, max)?).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: {e}"),
        )
    })
}

/// BLAKE3 (64 hex) of `path`, streamed, after [`open`]'s checks.
pub fn hash(path: &Path, max: u64) -> std::io::Result<String> {
    let (file, _) = open(path, max)?;
    let mut h = blake3::Hasher::new();
    h.update_reader(file.take(max))?;
    Ok(h.finalize().to_hex().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_devices_fifos_folders_and_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let e = read(&link, MAX_JSON).unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");
        let fifo = dir.path().join("pipe");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = read(&fifo, MAX_JSON).unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
        let e = read(dir.path(), MAX_JSON).unwrap_err().to_string();
        assert!(e.contains("folder"), "{e}");
        let f = dir.path().join("big");
        std::fs::write(&f, [0u8; 100]).unwrap();
        let e = read(&f, 99).unwrap_err().to_string();
        assert!(e.contains("100 bytes") && e.contains("99"), "{e}");
        assert_eq!(read(&f, 100).unwrap().len(), 100);
        let via = dir.path().join("via");
        std::os::unix::fs::symlink(&f, &via).unwrap();
        assert_eq!(
            hash(&via, 100).unwrap(),
            blake3::hash(&[0u8; 100]).to_hex().to_string()
        );
    }
}
