//! The sign-in views behind `warden signins`, `warden incidents` and the app's Sign-ins and
//! Incidents views: read-only, from OpenAlgo's `login_attempts` and `active_sessions` and from
//! the access logs' 401s on `/auth/login`.

use serde::Serialize;

use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::source::openalgo::Health;
use crate::source::signins::{self, Failure, Incident, Recent, Session, SignIn};
use crate::time::Timestamp;

/// The most `login_attempts` rows read for a view (the newest).
const ROWS_MAX: usize = 20_000;

/// How many bytes of each access log's end are read for incidents.
const LOG_TAIL: u64 = 64 << 20;

/// Successful sign-ins and the sessions open now.
#[derive(Debug, Clone, Serialize)]
pub struct SignIns {
    /// Sign-ins, newest first, each flagged when its address was new for that user.
    pub signins: Vec<SignIn>,
    /// The open sessions.
    pub sessions: Vec<Session>,
}

fn openalgo_db(paths: &Paths) -> Result<&std::path::Path> {
    paths.openalgo_db.as_deref().ok_or_else(|| {
        Error::SignIns("Warden does not know where openalgo.db is; set openalgo_db in the configuration".into())
    })
}

fn err(h: Health) -> Error {
    match h {
        Health::Ok => Error::SignIns("unknown error".into()),
        Health::Missing(m) | Health::NoSchema(m) | Health::Locked(m) | Health::Failing(m) => Error::SignIns(m),
    }
}

/// Every row of `login_attempts` up to [`ROWS_MAX`] (the newest), oldest first.
fn all_attempts(conn: &rusqlite::Connection, path: &std::path::Path) -> Result<Vec<signins::Attempt>> {
    let last = signins::last_id(conn, path).map_err(err)?;
    let mut after = (last - ROWS_MAX as i64).max(0);
    let mut out = Vec::new();
    loop {
        let rows = signins::read_attempts(conn, path, after, 5000).map_err(err)?;
        let Some(end) = rows.last().map(|r| r.id) else { break };
        after = end;
        out.extend(rows);
    }
    Ok(out)
}

/// The last `limit` sign-ins, newest first, and the open sessions. "New address" is judged over
/// the whole history read, oldest first.
pub fn signins(paths: &Paths, limit: usize) -> Result<SignIns> {
    let path = openalgo_db(paths)?;
    let conn = signins::open(path).map_err(err)?;
    let rows = all_attempts(&conn, path)?;
    let mut seen = std::collections::HashSet::new();
    let mut learn = |user: &str, key: &str| seen.insert((user.to_string(), key.to_string()));
    let mut list = signins::fold(&rows, &mut learn, &mut Recent::default());
    list.reverse();
    list.truncate(limit);
    let sessions = signins::sessions(&conn, path).map_err(err)?;
    Ok(SignIns { signins: list, sessions })
}

/// Failed sign-ins per address in the last `hours`, attacks marked, most attempts first.
pub fn incidents(cfg: &Config, paths: &Paths, hours: u32, now: Timestamp) -> Result<Vec<Incident>> {
    let since = now - chrono::Duration::hours(i64::from(hours));
    let mut failures = Vec::new();
    if let Some(path) = paths.openalgo_db.as_deref().filter(|p| p.exists()) {
        let conn = signins::open(path).map_err(err)?;
        for a in all_attempts(&conn, path)? {
            let (Some(at), Some(ip)) = (a.at, a.ip) else { continue };
            if !a.success && at >= since {
                failures.push(Failure {
                    ip,
                    at,
                    username: Some(a.username),
                    user_agent: a.user_agent,
                    from_log: false,
                });
            }
        }
    } else if paths.access_logs.is_empty() {
        return Err(openalgo_db(paths)
            .err()
            .unwrap_or_else(|| Error::SignIns("neither openalgo.db nor an access log is there to read".into())));
    }
    let login = cfg.classify.failed_login_path.as_str();
    for (path, format) in &paths.access_logs {
        for line in crate::dashboard::traffic::access_tail(path, format, LOG_TAIL) {
            let Some(at) = line.at.filter(|t| *t >= since) else { continue };
            let path_only = line.path.split('?').next().unwrap_or("");
            if line.status == 401 && path_only == login {
                failures.push(Failure { ip: line.ip, at, username: None, user_agent: line.user_agent, from_log: true });
            }
        }
    }
    Ok(signins::incidents(&failures, cfg.login.auth_attempts))
}
