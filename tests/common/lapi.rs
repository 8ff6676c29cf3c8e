//! A real CrowdSec Local API for tests, as `../shared/notes/crowdsec-lapi.md` measured it: Debian's
//! `crowdsec`, the LAPI alone (`-no-cs -no-capi`), offline, on a free loopback port, with its own
//! SQLite database in a temporary folder. Stopped when dropped.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running LAPI.
pub struct Lapi {
    /// Its folder (configuration, database, log, credentials).
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Lapi {
    /// Writes the configuration and starts the LAPI.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display().to_string();
        let config = [
            "common:".to_string(),
            "  log_media: stdout".into(),
            "  log_level: info".into(),
            "config_paths:".into(),
            format!("  config_dir: {d}/"),
            format!("  data_dir: {d}/"),
            "db_config:".into(),
            "  type: sqlite".into(),
            format!("  db_path: {d}/crowdsec.db"),
            "  use_wal: false".into(),
            "api:".into(),
            "  client:".into(),
            format!("    credentials_path: {d}/cscli.yaml"),
            "  server:".into(),
            format!("    listen_uri: 127.0.0.1:{port}"),
            format!("    profiles_path: {d}/profiles.yaml"),
            "prometheus:".into(),
            "  enabled: false".into(),
        ];
        std::fs::write(dir.path().join("config.yaml"), config.join("\n") + "\n").unwrap();
        std::fs::write(
            dir.path().join("profiles.yaml"),
            "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\non_success: break\n",
        )
        .unwrap();
        let mut lapi = Self { dir, url: format!("http://127.0.0.1:{port}"), port, child: None };
        lapi.run();
        // cscli logs in as a machine of its own.
        lapi.cscli(&[
            "machines",
            "add",
            "cscli-test",
            "--password",
            "Cscli-test-pw-1",
            "-f",
            &format!("{d}/cscli.yaml"),
        ]);
        lapi
    }

    /// Starts the process (again) on the same port and database, and waits for `/health`.
    pub fn run(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("crowdsec.log")).unwrap();
        let child = Command::new("crowdsec")
            .arg("-c")
            .arg(self.dir.path().join("config.yaml"))
            .args(["-no-cs", "-no-capi"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("crowdsec (Debian package crowdsec) must be installed: scripts/test.sh installs it");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            let up = std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok_and(|mut s| {
                use std::io::{Read, Write};
                let _ = write!(s, "GET /health HTTP/1.0\r\n\r\n");
                let mut t = String::new();
                let _ = s.read_to_string(&mut t);
                t.contains("\"up\"")
            });
            if up {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "crowdsec exited ({status}): {}",
                    std::fs::read_to_string(self.dir.path().join("crowdsec.log")).unwrap_or_default()
                );
            }
            assert!(start.elapsed() < Duration::from_secs(30), "the LAPI did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process (the database stays).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `cscli` on this LAPI; returns its standard output.
    pub fn cscli(&self, args: &[&str]) -> String {
        let out = Command::new("cscli")
            .arg("-c")
            .arg(self.dir.path().join("config.yaml"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "cscli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A machine's credentials file, as `cscli machines add -f` writes it (0600).
    pub fn machine(&self, name: &str, into: &Path) -> PathBuf {
        let file = into.join(format!("{name}.yaml"));
        self.cscli(&[
            "machines",
            "add",
            name,
            "--password",
            &format!("{name}-Pw-123456"),
            "-f",
            &file.display().to_string(),
        ]);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        file
    }

    /// A bouncer key in a 0600 file.
    pub fn bouncer(&self, name: &str, into: &Path) -> PathBuf {
        let key = self.cscli(&["bouncers", "add", name, "-o", "raw"]);
        let file = into.join(format!("{name}.key"));
        std::fs::write(&file, key.trim()).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        file
    }

    /// Active decisions with origin `warden` for `value`, as `cscli decisions list -o json` shows
    /// them: (origin, scenario).
    pub fn warden_decisions(&self, value: &str) -> Vec<(String, String)> {
        let out = self.cscli(&["decisions", "list", "--origin", "warden", "-o", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or(serde_json::Value::Null);
        let mut found = Vec::new();
        for alert in v.as_array().into_iter().flatten() {
            for d in alert.get("decisions").and_then(|d| d.as_array()).into_iter().flatten() {
                if d["value"] == value {
                    found.push((
                        d["origin"].as_str().unwrap_or("").to_string(),
                        d["scenario"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
        }
        found
    }
}

impl Drop for Lapi {
    fn drop(&mut self) {
        self.stop();
    }
}
