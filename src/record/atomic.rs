//! Whole-or-nothing output files: written under a temporary name beside the target and
//! renamed into place when complete, so that a crash or an error never leaves a
//! half-written file under the real name.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The temporary name for `path`: `name.partial.ext`, keeping the extension so that
/// writers that choose a format by extension (PNG) still do.
pub fn partial_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_os_string();
    let mut name = stem;
    name.push(".partial");
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// Calls `write` on the temporary path, then renames it to `path`; on any error the
/// temporary file is removed and the error returned.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let partial = partial_path(path);
    let result = write(&partial)
        .and_then(|()| std::fs::rename(&partial, path).map_err(|e| Error::Output { path: path.to_path_buf(), message: e.to_string() }));
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_extension() {
        assert_eq!(partial_path(Path::new("out/raster.png")), Path::new("out/raster.partial.png"));
        assert_eq!(partial_path(Path::new("spikes")), Path::new("spikes.partial"));
    }

    #[test]
    fn failure_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bin");
        let err = write_atomically(&path, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(Error::Runtime("disk full".into()))
        });
        assert!(err.is_err());
        assert!(!path.exists() && !partial_path(&path).exists());
        write_atomically(&path, |tmp| std::fs::write(tmp, b"whole").map_err(|e| Error::Runtime(e.to_string()))).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
    }
}
