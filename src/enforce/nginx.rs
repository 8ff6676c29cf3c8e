//! nginx: a `geo` file Warden owns, checked before every reload, reloads spaced.
//!
//! The trader pastes two parts once ([`http_snippet`], [`server_snippet`]): a `geo` block in
//! `http {}` that includes Warden's file and sets `$warden_banned`, and a check in OpenAlgo's
//! `server {}` that answers 403 when it is set. From then on Warden only writes its file:
//!
//! - normally, `default 0;` and one canonical `CIDR 1;` line per refused range or address;
//! - in allow-list-only mode, `default 1;` and one `CIDR 0;` line per admitted range, loopback
//!   always among them (nginx's `geo` takes the longest match), so turning the mode on or off
//!   needs no edit of nginx's configuration.
//!
//! A new file is written beside the old one, synced and renamed into place, then checked with the
//! configured command (`nginx -t`). If the check fails, the previous file is put back, nginx is not
//! reloaded (it keeps serving the previous list) and the sink reports failing. Writes, checks and
//! reloads are spaced ([`crate::config::NginxEnforce::reload_spacing_seconds`]): a flood of bans
//! costs one of each per spacing, for the latest state.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::command::run;
use super::Sink;
use crate::config::NginxEnforce;
use crate::policy::Desired;
use crate::store::private::write_private;
use crate::time::Timestamp;

/// How long `nginx -t` or a reload may take.
const LIMIT: Duration = Duration::from_secs(30);

/// The geo file's text for `desired`.
pub fn render(desired: &Desired) -> String {
    let mut out = String::with_capacity(32 + 24 * desired.deny.len());
    out.push_str("# Written by Warden; changes here are overwritten. See `warden enforce status`.\n");
    match &desired.allow_only {
        None => {
            out.push_str("default 0;\n");
            for d in &desired.deny {
                out.push_str(&d.net.to_string());
                out.push_str(" 1;\n");
            }
        }
        Some(admitted) => {
            out.push_str("# Allow-list-only mode: only these are admitted.\ndefault 1;\n");
            for net in admitted {
                out.push_str(&net.to_string());
                out.push_str(" 0;\n");
            }
        }
    }
    out
}

/// What `--http` prints: the `geo` block for nginx's `http {}`.
pub fn http_snippet(cfg: &NginxEnforce) -> String {
    format!(
        "# Warden: the addresses it refuses. Paste inside http {{ }} (for example in\n\
         # /etc/nginx/conf.d/warden.conf, which Debian's nginx.conf includes there).\n\
         geo $warden_banned {{\n    include {};\n}}\n",
        cfg.geo_file.display()
    )
}

/// What `--server` prints: the check for OpenAlgo's `server {}`, and the two headers to clear in
/// each `location` that proxies to OpenAlgo.
pub fn server_snippet() -> String {
    "# Warden: refuse what Warden bans. Paste inside the server { } that serves OpenAlgo\n\
     # (both the HTTPS one and any plain-HTTP one that proxies).\n\
     if ($warden_banned) { return 403; }\n\
     \n\
     # OpenAlgo trusts these two headers before nginx's own X-Real-IP, so a client that sends them\n\
     # can choose the address OpenAlgo sees and walk past its ban. Clear them: paste these two lines\n\
     # into EACH location that has proxy_pass to OpenAlgo, next to its other proxy_set_header lines\n\
     # (nginx drops inherited proxy_set_header lines in a location that has any of its own).\n\
     # Keep the headers only behind Cloudflare or Akamai, with their ranges in set_real_ip_from.\n\
     proxy_set_header CF-Connecting-IP \"\";\n\
     proxy_set_header True-Client-IP \"\";\n"
        .to_string()
}

/// Creates the geo file (and its folder) if it does not exist yet, empty, so that `nginx -t`
/// passes straight after the snippet is pasted. Returns whether it was created.
pub fn ensure_geo_file(path: &Path) -> crate::Result<bool> {
    if path.exists() {
        return Ok(false);
    }
    write_private(path, render(&Desired::default()).as_bytes())?;
    Ok(true)
}

/// The nginx sink.
#[derive(Debug)]
pub struct NginxSink {
    cfg: NginxEnforce,
    /// The file as Warden last wrote it: inode, size, modification time.
    written: Option<(u64, u64, i64, i64)>,
    /// When the last reload ran.
    reloaded: Option<Instant>,
    /// When the put-off write, check and reload are due.
    reload_due: Option<Instant>,
    /// The state they are for.
    pending: Option<Desired>,
}

impl NginxSink {
    /// The sink for `cfg`.
    pub fn new(cfg: NginxEnforce) -> Self {
        Self { cfg, written: None, reloaded: None, reload_due: None, pending: None }
    }

    fn stamp(path: &Path) -> Option<(u64, u64, i64, i64)> {
        std::fs::metadata(path).ok().map(|m| (m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
    }

    fn reload(&mut self) -> Result<(), String> {
        self.reloaded = Some(Instant::now());
        run(&self.cfg.reload, None, LIMIT).map(|_| ()).map_err(|e| format!("nginx did not reload: {e}"))
    }

    /// Writes the list for `desired`, has nginx check it (putting the old one back if it refuses
    /// it) and reloads.
    fn write_and_reload(&mut self, desired: &Desired) -> Result<(), String> {
        let path: PathBuf = self.cfg.geo_file.clone();
        let text = render(desired);
        let previous = std::fs::read(&path).ok();
        if previous.as_deref() != Some(text.as_bytes()) || self.written.is_none() {
            write_private(&path, text.as_bytes()).map_err(|e| format!("cannot write the ban list: {e}"))?;
            if let Err(e) = run(&self.cfg.check, None, LIMIT) {
                let restored = Self::put_back(&path, previous.as_deref());
                self.written = Self::stamp(&path);
                let kept = match restored {
                    Ok(()) => "the previous list was put back and nginx keeps serving it".to_string(),
                    Err(r) => format!("and the previous list could not be put back ({r})"),
                };
                return Err(format!("nginx's check refused the new ban list, {kept}: {e}"));
            }
        }
        self.written = Self::stamp(&path);
        self.reload()
    }

    fn spacing(&self) -> Duration {
        Duration::from_secs(self.cfg.reload_spacing_seconds)
    }

    fn put_back(path: &Path, previous: Option<&[u8]>) -> Result<(), String> {
        match previous {
            Some(bytes) => write_private(path, bytes).map_err(|e| e.to_string()),
            None => std::fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display())),
        }
    }
}

impl Sink for NginxSink {
    fn name(&self) -> &'static str {
        "nginx"
    }

    fn apply(&mut self, desired: &Desired, _now: Timestamp) -> Result<(), String> {
        if let Some(at) = self.reloaded.filter(|at| at.elapsed() < self.spacing()) {
            // A flood of bans costs one write, one check and one reload per spacing: the latest
            // state waits for the due time (the monitor comes back for it).
            self.pending = Some(desired.clone());
            self.reload_due.get_or_insert(at + self.spacing());
            return Ok(());
        }
        self.pending = None;
        self.write_and_reload(desired)
    }

    fn drifted(&mut self) -> bool {
        self.written.is_some() && Self::stamp(&self.cfg.geo_file) != self.written
    }

    fn due(&self) -> Option<Instant> {
        self.reload_due
    }

    fn run_due(&mut self) -> Result<(), String> {
        self.reload_due = None;
        match self.pending.take() {
            Some(desired) => self.write_and_reload(&desired),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{parse_value, DenyEntry};

    #[test]
    fn a_flood_costs_one_write_check_and_reload_per_spacing_for_the_latest_state() {
        let dir = tempfile::tempdir().unwrap();
        let geo = dir.path().join("banned.geo");
        let checks = dir.path().join("checks");
        let count = format!("echo x >> {}", checks.display());
        let cfg = NginxEnforce {
            geo_file: geo.clone(),
            check: vec!["sh".into(), "-c".into(), count],
            reload: vec!["true".into()],
            reload_spacing_seconds: 3600,
        };
        let mut sink = NginxSink::new(cfg);
        let state =
            |v: &str| Desired { deny: vec![DenyEntry { net: parse_value(v).unwrap(), until: None }], allow_only: None };
        let now = crate::time::now();
        sink.apply(&state("203.0.113.1"), now).unwrap();
        assert!(std::fs::read_to_string(&geo).unwrap().contains("203.0.113.1/32 1;"));
        for v in ["203.0.113.2", "203.0.113.3", "203.0.113.4"] {
            sink.apply(&state(v), now).unwrap();
        }
        assert!(sink.due().is_some(), "put off to the spacing");
        assert!(std::fs::read_to_string(&geo).unwrap().contains("203.0.113.1/32 1;"), "not written yet");
        sink.run_due().unwrap();
        let text = std::fs::read_to_string(&geo).unwrap();
        assert!(text.contains("203.0.113.4/32 1;") && !text.contains("203.0.113.2"), "the latest state: {text}");
        assert_eq!(std::fs::read_to_string(&checks).unwrap().lines().count(), 2, "two checks for four states");
        assert!(sink.due().is_none());
    }

    #[test]
    fn the_file_lists_each_range_once_and_allow_only_mode_admits_loopback_first() {
        let d = Desired {
            deny: vec![
                DenyEntry { net: parse_value("203.0.113.0/24").unwrap(), until: None },
                DenyEntry { net: parse_value("2001:db8::5").unwrap(), until: None },
            ],
            allow_only: None,
        };
        let text = render(&d);
        assert!(text.ends_with("default 0;\n203.0.113.0/24 1;\n2001:db8::5/128 1;\n"), "{text}");
        let d = Desired { deny: d.deny, allow_only: Some(crate::policy::loopback().to_vec()) };
        let text = render(&d);
        assert!(text.ends_with("default 1;\n127.0.0.0/8 0;\n::1/128 0;\n"), "{text}");
        assert!(!text.contains(" 1;\n203"), "in allow-only mode the deny lines are moot");
    }
}
