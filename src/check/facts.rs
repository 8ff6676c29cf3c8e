//! Gathering the checklist's facts: the only part of `warden check` that touches the machine.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::env::{self, EnvFile};
use super::net::{self, Listener};
use super::nginx::{self, NginxConf};
use crate::store::openalgo_settings::OpenAlgoDb;
use crate::store::SettingsRow;

/// A fact, or why it could not be read.
pub type Fact<T> = Result<T, String>;

/// The mode and owner of a file or directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// Its path.
    pub path: PathBuf,
    /// Permission bits (`0o644`).
    pub mode: u32,
    /// Owner's user id.
    pub uid: u32,
    /// Owner's group id.
    pub gid: u32,
    /// Whether it is a directory.
    pub dir: bool,
}

/// Everything the checklist judges.
#[derive(Debug, Clone)]
pub struct Facts {
    /// OpenAlgo's folder (the one holding `.env` and `db/`), if known.
    pub openalgo_dir: Option<PathBuf>,
    /// `.env`, parsed.
    pub env: Fact<EnvFile>,
    /// `.env`'s mode and owner.
    pub env_file: Fact<FileFacts>,
    /// `db/` and the files in it.
    pub db_files: Fact<Vec<FileFacts>>,
    /// `keys/`, if it exists (`Ok(None)` when it does not).
    pub keys_dir: Fact<Option<FileFacts>>,
    /// nginx's configuration, and where it came from (`nginx -T`, or the files given).
    pub nginx: Fact<(NginxConf, String)>,
    /// Whether Warden's user can open each access-log path the configuration names, by path.
    pub readable: Vec<(String, Result<(), String>)>,
    /// The listening TCP sockets.
    pub listeners: Fact<Vec<Listener>>,
    /// OpenAlgo's `settings` row.
    pub settings: Fact<SettingsRow>,
    /// Whether OpenAlgo runs in a container (the app must bind every interface there; the
    /// published ports decide what is exposed).
    pub in_docker: bool,
}

/// Where to look.
#[derive(Debug, Clone, Default)]
pub struct Where {
    /// OpenAlgo's folder; default: the parent of `logs.db`'s `db/` folder.
    pub openalgo_dir: Option<PathBuf>,
    /// `logs.db`, to find OpenAlgo's folder from.
    pub logs_db: Option<PathBuf>,
    /// `openalgo.db`, for the `settings` row.
    pub openalgo_db: Option<PathBuf>,
    /// nginx configuration files to read instead of running `nginx -T`.
    pub nginx_config: Vec<PathBuf>,
    /// The `nginx` program to run (`nginx` on the PATH by default).
    pub nginx_bin: Option<PathBuf>,
    /// How long `nginx -T` may take ([`NGINX_T_LIMIT`] by default).
    pub nginx_limit: Option<std::time::Duration>,
    /// The `/proc/net` folder (tests point it elsewhere).
    pub proc_net: Option<PathBuf>,
}

/// Reads every fact, never failing: what cannot be read is recorded with the reason.
pub fn gather(w: &Where) -> Facts {
    let openalgo_dir = w.openalgo_dir.clone().or_else(|| {
        let db_dir = w.logs_db.as_deref()?.parent()?;
        let dir = db_dir.parent()?;
        Some(if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir.to_path_buf() })
    });
    let env_path = openalgo_dir.as_ref().map(|d| d.join(".env"));
    let env = match &env_path {
        None => Err("OpenAlgo's folder is not known: give --openalgo-dir or --logs-db".to_string()),
        Some(p) => read_env(p),
    };
    let env_file = match &env_path {
        None => Err("OpenAlgo's folder is not known".to_string()),
        Some(p) => file_facts(p),
    };
    let db_files = match &openalgo_dir {
        None => Err("OpenAlgo's folder is not known".to_string()),
        Some(d) => db_files(&d.join("db")),
    };
    let keys_dir = match &openalgo_dir {
        None => Err("OpenAlgo's folder is not known".to_string()),
        Some(d) => {
            let k = d.join("keys");
            if k.exists() {
                file_facts(&k).map(Some)
            } else {
                Ok(None)
            }
        }
    };
    let nginx = if w.nginx_config.is_empty() {
        nginx_t(w.nginx_bin.as_deref().unwrap_or(Path::new("nginx")), w.nginx_limit.unwrap_or(NGINX_T_LIMIT))
    } else {
        read_nginx_files(&w.nginx_config)
    };
    let readable = match &nginx {
        Ok((conf, _)) => access_log_paths(conf)
            .into_iter()
            .map(|p| {
                let r = std::fs::File::open(&p).map(|_| ()).map_err(|e| e.to_string());
                (p, r)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let proc_net = w.proc_net.clone().unwrap_or_else(|| PathBuf::from("/proc/net"));
    let listeners = listeners(&proc_net);
    let settings = match &w.openalgo_db {
        None => Err("openalgo.db was not found beside logs.db; give its path with --openalgo-db".to_string()),
        Some(p) => OpenAlgoDb::open(p).and_then(|db| db.read()).map_err(|e| e.to_string()),
    };
    let in_docker = Path::new("/.dockerenv").exists() || openalgo_dir.as_deref() == Some(Path::new("/app"));
    Facts { openalgo_dir, env, env_file, db_files, keys_dir, nginx, readable, listeners, settings, in_docker }
}

fn read_env(path: &Path) -> Fact<EnvFile> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if meta.len() > env::MAX_ENV_BYTES as u64 {
        return Err(format!("{} is {} bytes, far larger than any .env", path.display(), meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    env::parse(&bytes).map_err(|why| format!("{} cannot be read: {why}", path.display()))
}

fn file_facts(path: &Path) -> Fact<FileFacts> {
    let m = std::fs::metadata(path).map_err(|e| format!("cannot look at {}: {e}", path.display()))?;
    Ok(FileFacts { path: path.to_path_buf(), mode: m.mode() & 0o7777, uid: m.uid(), gid: m.gid(), dir: m.is_dir() })
}

fn db_files(dir: &Path) -> Fact<Vec<FileFacts>> {
    let mut out = vec![file_facts(dir)?];
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(".db")))
        .collect();
    files.sort();
    for f in files.iter().take(200) {
        out.push(file_facts(f)?);
    }
    Ok(out)
}

/// How long `nginx -T` may take before it is given up on (it reads a few files; the monitor
/// re-runs it, and must not hang on it).
pub const NGINX_T_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `nginx -T`: nginx's whole configuration, as nginx itself reads it.
fn nginx_t(bin: &Path, limit: std::time::Duration) -> Fact<(NginxConf, String)> {
    let out = crate::enforce::command::output_within(Command::new(bin).arg("-T"), None, limit).map_err(|e| match e
        .kind()
    {
        std::io::ErrorKind::NotFound => format!(
            "nginx is not installed here ({} was not found); give the configuration files with --nginx-config",
            bin.display()
        ),
        _ => format!("cannot run {} -T: {e}", bin.display()),
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.trim().is_empty() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Err(format!("`{} -T` failed: {}", bin.display(), super::one_line(first, 200)));
    }
    nginx::parse(&text, "nginx -T").map(|c| (c, "nginx -T".to_string()))
}

fn read_nginx_files(paths: &[PathBuf]) -> Fact<(NginxConf, String)> {
    let mut conf = NginxConf::default();
    for p in paths {
        let bytes = std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        conf.top.extend(nginx::parse(&text, &p.display().to_string())?.top);
    }
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Ok((conf, names.join(", ")))
}

/// The access-log paths the configuration names (not `off`, not syslog).
pub fn access_log_paths(conf: &NginxConf) -> Vec<String> {
    fn walk(ds: &[super::nginx::Directive], out: &mut Vec<String>) {
        for d in ds {
            if d.name == "access_log" {
                if let Some(p) = d.args.first().filter(|p| p.starts_with('/')) {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
            }
            if let Some(b) = &d.block {
                walk(b, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&conf.top, &mut out);
    out
}

fn listeners(proc_net: &Path) -> Fact<Vec<Listener>> {
    let mut out = Vec::new();
    let mut read_any = false;
    let mut last_err = None;
    for name in ["tcp", "tcp6"] {
        match std::fs::read_to_string(proc_net.join(name)) {
            Ok(text) => {
                read_any = true;
                out.extend(net::parse_proc_net_tcp(&text));
            }
            Err(e) => last_err = Some(format!("cannot read {}: {e}", proc_net.join(name).display())),
        }
    }
    if !read_any {
        return Err(last_err.unwrap_or_else(|| "no socket table".into()));
    }
    out.sort();
    out.dedup();
    Ok(out)
}
