//! Files only Warden's user can read: directories created 0700, files written 0600 through a
//! temporary file, a sync and a rename, so a crash never leaves half a file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{Error, Result};

/// Creates `path`'s parent directory with mode 0700 if it is missing.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.exists() {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io(format!("restricting {}", dir.display()), e))
}

/// Writes a file readable only by its owner (0600), through a temporary file and a rename so a
/// crash never leaves half a file.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let ctx = |what: &str| format!("{what} {}", tmp.display());
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(ctx("creating"), e))?;
    // NOTE: `mode` applies only when the file is created; force it in case `tmp` pre-existed.
    f.set_permissions(fs::Permissions::from_mode(0o600)).map_err(|e| Error::io(ctx("restricting"), e))?;
    f.write_all(bytes).map_err(|e| Error::io(ctx("writing"), e))?;
    f.sync_all().map_err(|e| Error::io(ctx("syncing"), e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(format!("replacing {}", path.display()), e))
}

/// Reads a secret file (`what` names it in errors): it must be a regular file no one else can
/// read, or the error says which `chmod` fixes it.
pub fn read_private(path: &Path, what: &str) -> std::result::Result<String, String> {
    use std::os::unix::fs::MetadataExt;
    let shown = crate::ip::display_raw(&path.to_string_lossy());
    let meta = fs::metadata(path).map_err(|e| format!("cannot read the {what} {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("the {what} {shown} is not a regular file"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(format!(
            "the {what} {shown} can be read by others (mode {:o}); run: chmod 600 {shown}",
            meta.mode() & 0o777
        ));
    }
    fs::read_to_string(path).map_err(|e| format!("cannot read the {what} {shown}: {e}"))
}
