//! The JSON-lines event file: one object per notice, appended. When logrotate moves the file
//! away (or deletes it), the next write creates a new one at the path; with `copytruncate` the
//! file stays and Warden's appends land at its new end. Created with mode 0600.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

use crate::monitor::Notice;
use crate::source::openalgo::Health;
use crate::time::Timestamp;

/// The open event file.
#[derive(Debug)]
pub struct JsonLines {
    path: PathBuf,
    file: Option<(File, u64, u64)>,
    failing: bool,
}

impl JsonLines {
    /// The file at `path`, opened at the first write.
    pub fn new(path: PathBuf) -> Self {
        Self { path, file: None, failing: false }
    }

    /// The file to append to: the open one while the path still names it, else a new one.
    fn file(&mut self) -> std::io::Result<&mut File> {
        let now_at = std::fs::metadata(&self.path).ok().map(|m| (m.dev(), m.ino()));
        let same = matches!((&self.file, now_at), (Some((_, d, i)), Some((d2, i2))) if *d == d2 && *i == i2);
        if !same {
            if let Some(dir) = self.path.parent() {
                crate::store::private::create_private_dir(dir).map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            let f = OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path)?;
            let m = f.metadata()?;
            self.file = Some((f, m.dev(), m.ino()));
        }
        match &mut self.file {
            Some((f, _, _)) => Ok(f),
            None => Err(std::io::Error::other("no file")),
        }
    }

    /// Appends `notices`; returns a notice when writing started failing or works again.
    pub fn write(&mut self, notices: &[Notice], now: Timestamp) -> Option<Notice> {
        if notices.is_empty() {
            return None;
        }
        let mut text = String::new();
        for n in notices {
            text.push_str(&super::json_line(n, now));
            text.push('\n');
        }
        let result = self.file().and_then(|f| f.write_all(text.as_bytes()));
        let failing = result.is_err();
        if let Err(e) = &result {
            self.file = None;
            if self.failing {
                return None;
            }
            self.failing = true;
            return Some(Notice::Source {
                name: "event file".into(),
                path: self.path.display().to_string(),
                health: Health::Failing(format!("cannot append to {}: {e}", self.path.display())),
            });
        }
        if self.failing && !failing {
            self.failing = false;
            return Some(Notice::Source {
                name: "event file".into(),
                path: self.path.display().to_string(),
                health: Health::Ok,
            });
        }
        None
    }
}
