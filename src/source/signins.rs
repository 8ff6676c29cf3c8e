//! OpenAlgo's sign-in audit in `openalgo.db` (spec §12): `login_attempts`, one row per step of a
//! sign-in, and `active_sessions`, the browsers signed in now.
//!
//! Both tables are written in naive IST (UTC+05:30), unlike `logs.db`; [`ist_to_utc`] converts.
//! One successful sign-in writes two rows, `password` (or `totp`) and then `oauth` after the
//! broker step; [`fold`] makes them one [`SignIn`]. Every string in these rows was typed by
//! whoever signed in (or tried to): they are data, escaped wherever they are shown.
//!
//! The reader is read-only and gives up on a lock after a short wait: the monitor tries again at
//! its next round, and OpenAlgo never waits for Warden.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use chrono::Duration;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::ip::{canonicalize, display_raw};
use crate::source::openalgo::Health;
use crate::time::{parse_db_time, Timestamp};

/// How long a read waits for OpenAlgo's lock before it is retried at the next round.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// A broker-step row (`oauth`, `resume`, `totp_resume`) this soon after a sign-in of the same
/// user from the same address belongs to that sign-in.
const FOLD_WITHIN: Duration = Duration::minutes(5);

/// The columns Warden cannot read sign-ins without.
const REQUIRED: [&str; 5] = ["id", "username", "ip_address", "status", "timestamp"];

/// One row of `login_attempts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Its `id` (rows are never deleted, so ids only grow).
    pub id: i64,
    /// The user name as typed (for a failure, whatever the guesser sent).
    pub username: String,
    /// The address as OpenAlgo recorded it.
    pub ip: Option<String>,
    /// The User-Agent (cut to 500 by OpenAlgo; bytes that are not UTF-8 are replaced).
    pub user_agent: Option<String>,
    /// `success` (true) or `failed`.
    pub success: bool,
    /// `password`, `oauth`, `totp`, `resume`, `totp_resume`.
    pub login_type: String,
    /// The broker, on broker-step rows.
    pub broker: Option<String>,
    /// `invalid_credentials` or `invalid_totp` on failures.
    pub failure_reason: Option<String>,
    /// When, in UTC.
    pub at: Option<Timestamp>,
}

/// One successful sign-in (its broker step folded in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignIn {
    /// Who.
    pub username: String,
    /// From where: canonical, or the recorded text escaped when it is not an address.
    pub ip: String,
    /// With what.
    pub user_agent: Option<String>,
    /// When (UTC).
    #[serde(with = "crate::time::serde_rfc3339")]
    pub at: Timestamp,
    /// How: `password`, `totp`, or `resume` (the broker step's type when that is all there is).
    pub login_type: String,
    /// The broker, when the broker step followed.
    pub broker: Option<String>,
    /// Whether this user never signed in from this address (its `/64` for IPv6) before.
    pub new_address: bool,
}

/// One open session in `active_sessions` (its session id, a secret, is never read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// Who.
    pub username: String,
    /// From where.
    pub ip: String,
    /// With what.
    pub user_agent: Option<String>,
    /// The broker.
    pub broker: Option<String>,
    /// When it signed in (UTC).
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub login_time: Option<Timestamp>,
    /// When the browser was last seen (UTC).
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub last_seen: Option<Timestamp>,
}

/// `login_attempts` and `active_sessions` times are naive IST: this is the UTC instant.
/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (and the ISO `T` spelling) are accepted.
pub fn ist_to_utc(text: &str) -> Option<Timestamp> {
    parse_db_time(text).map(|t| t - Duration::minutes(330))
}

/// How an address is compared for "new address": itself, or its `/64` for IPv6 (one host's
/// privacy addresses change every day inside it).
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let net = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc()).unwrap_or_default();
            net.to_string()
        }
    }
}

/// The key of a recorded address: [`address_key`] when it parses, the escaped text otherwise.
pub fn key_of(raw: &str) -> String {
    canonicalize(raw).map(address_key).unwrap_or_else(|_| display_raw(raw))
}

fn shown(raw: Option<&str>) -> String {
    match raw {
        Some(r) => canonicalize(r).map(|ip| ip.to_string()).unwrap_or_else(|_| display_raw(r)),
        None => "(no address)".into(),
    }
}

/// Opens `openalgo.db` read-only, or says why not.
pub fn open(path: &Path) -> Result<Connection, Health> {
    if !path.exists() {
        return Err(Health::Missing(format!("{} does not exist (yet)", path.display())));
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| health(path, &e))?;
    conn.busy_timeout(BUSY_WAIT).map_err(|e| health(path, &e))?;
    Ok(conn)
}

fn health(path: &Path, e: &rusqlite::Error) -> Health {
    let busy =
        matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked));
    if busy {
        Health::Locked(format!("{} is locked by another program; Warden tries again shortly", path.display()))
    } else {
        Health::Failing(format!("cannot read sign-ins from {}: {e}", path.display()))
    }
}

/// The columns `table` has, or `None` when it does not exist.
fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Option<Vec<String>>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
    let cols: Vec<String> = stmt.query_map([table], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    Ok((!cols.is_empty()).then_some(cols))
}

/// Checks that `login_attempts` has what Warden reads; the optional columns it lacks are read as
/// NULL.
fn layout(conn: &Connection, path: &Path) -> Result<Vec<String>, Health> {
    let cols = columns(conn, "login_attempts").map_err(|e| health(path, &e))?.ok_or_else(|| {
        Health::NoSchema(format!(
            "{} has no login_attempts table (OpenAlgo before 2.0 did not record sign-ins)",
            path.display()
        ))
    })?;
    if let Some(missing) = REQUIRED.iter().find(|c| !cols.iter().any(|x| x == *c)) {
        return Err(Health::NoSchema(format!(
            "login_attempts in {} has an older layout without the column {missing}; Warden cannot read \
             sign-ins from it (update OpenAlgo)",
            path.display()
        )));
    }
    Ok(cols)
}

/// Text of a column whatever its bytes: invalid UTF-8 is replaced, not an error.
fn lossy(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    }
}

/// The rows after `after_id`, oldest first, at most `limit`.
pub fn read_attempts(conn: &Connection, path: &Path, after_id: i64, limit: usize) -> Result<Vec<Attempt>, Health> {
    let cols = layout(conn, path)?;
    let col = |c: &str| if cols.iter().any(|x| x == c) { c.to_string() } else { "NULL".to_string() };
    let sql = format!(
        "SELECT id, username, ip_address, {}, status, {}, {}, {}, timestamp FROM login_attempts \
         WHERE id > ?1 ORDER BY id LIMIT ?2",
        col("device_info"),
        col("login_type"),
        col("broker"),
        col("failure_reason")
    );
    let mut stmt = conn.prepare(&sql).map_err(|e| health(path, &e))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut rows = stmt.query(rusqlite::params![after_id, limit]).map_err(|e| health(path, &e))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(|e| health(path, &e))? {
        let get = |i: usize| r.get_ref(i).ok().and_then(lossy);
        let Ok(id) = r.get::<_, i64>(0) else { continue };
        out.push(Attempt {
            id,
            username: get(1).unwrap_or_default(),
            ip: get(2),
            user_agent: get(3),
            success: get(4).is_some_and(|s| s == "success" || s == "resumed"),
            login_type: get(5).unwrap_or_else(|| "password".into()),
            broker: get(6),
            failure_reason: get(7),
            at: get(8).as_deref().and_then(ist_to_utc),
        });
    }
    Ok(out)
}

/// The largest `id` in `login_attempts` (0 for an empty table).
pub fn last_id(conn: &Connection, path: &Path) -> Result<i64, Health> {
    layout(conn, path)?;
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM login_attempts", [], |r| r.get(0)).map_err(|e| health(path, &e))
}

/// The open sessions, newest first; none when the table does not exist.
pub fn sessions(conn: &Connection, path: &Path) -> Result<Vec<Session>, Health> {
    let Some(cols) = columns(conn, "active_sessions").map_err(|e| health(path, &e))? else { return Ok(Vec::new()) };
    let col = |c: &str| if cols.iter().any(|x| x == c) { c.to_string() } else { "NULL".to_string() };
    let sql = format!(
        "SELECT {}, {}, {}, {}, {}, {} FROM active_sessions ORDER BY {} DESC LIMIT 100",
        col("username"),
        col("ip_address"),
        col("device_info"),
        col("broker"),
        col("login_time"),
        col("last_seen"),
        if cols.iter().any(|c| c == "login_time") { "login_time" } else { "rowid" }
    );
    let mut stmt = conn.prepare(&sql).map_err(|e| health(path, &e))?;
    let mut rows = stmt.query([]).map_err(|e| health(path, &e))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(|e| health(path, &e))? {
        let get = |i: usize| r.get_ref(i).ok().and_then(lossy);
        out.push(Session {
            username: get(0).unwrap_or_default(),
            ip: shown(get(1).as_deref()),
            user_agent: get(2).filter(|s| !s.is_empty()),
            broker: get(3),
            login_time: get(4).as_deref().and_then(ist_to_utc),
            last_seen: get(5).as_deref().and_then(ist_to_utc),
        });
    }
    Ok(out)
}

/// Whether a row is a broker step that completes an earlier sign-in.
fn is_broker_step(login_type: &str) -> bool {
    matches!(login_type, "oauth" | "resume" | "totp_resume")
}

/// Folds successful rows into sign-ins, oldest first. `known` holds the addresses each user
/// signed in from before (user name, [`key_of`]); it learns those seen here, and `new_address`
/// is set from it. `open` carries the sign-ins still open to a broker step across calls.
pub fn fold(attempts: &[Attempt], known: &mut dyn FnMut(&str, &str) -> bool, open: &mut Recent) -> Vec<SignIn> {
    let mut out: Vec<SignIn> = Vec::new();
    for a in attempts.iter().filter(|a| a.success) {
        let Some(at) = a.at else { continue };
        let ip = shown(a.ip.as_deref());
        let slot = (a.username.clone(), ip.clone());
        if is_broker_step(&a.login_type) {
            if let Some(started) = open.0.get(&slot) {
                if at >= *started && at - *started <= FOLD_WITHIN {
                    if let Some(s) = out.iter_mut().rev().find(|s| s.username == slot.0 && s.ip == slot.1) {
                        s.broker = a.broker.clone();
                    }
                    open.0.remove(&slot);
                    continue;
                }
            }
        } else {
            open.0.insert(slot, at);
        }
        let is_new = known(&a.username, &key_of(a.ip.as_deref().unwrap_or("")));
        out.push(SignIn {
            username: a.username.clone(),
            ip,
            user_agent: a.user_agent.clone().filter(|s| !s.is_empty()),
            at,
            login_type: a.login_type.clone(),
            broker: a.broker.clone(),
            new_address: is_new,
        });
    }
    open.0.retain(|_, t| out.last().is_none_or(|s| s.at - *t <= FOLD_WITHIN));
    out
}

/// Sign-ins whose broker step may still come (user, address → when).
#[derive(Debug, Default, Clone)]
pub struct Recent(HashMap<(String, String), Timestamp>);

/// Failed sign-ins from one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// The address (canonical, or escaped text).
    pub ip: String,
    /// The user agents it used (at most 10).
    pub user_agents: Vec<String>,
    /// Failed attempts in the window, as the login rule counts them.
    pub attempts: u32,
    /// The user names it tried, most tried first (at most 20).
    pub usernames: Vec<String>,
    /// The first attempt in the window.
    #[serde(with = "crate::time::serde_rfc3339")]
    pub first_at: Timestamp,
    /// The last one.
    #[serde(with = "crate::time::serde_rfc3339")]
    pub last_at: Timestamp,
    /// Whether the attempts reached `[login] auth_attempts`.
    pub attack: bool,
    /// `openalgo` (its `login_attempts`), `access_log` (401s on `/auth/login`), or `both`.
    pub source: String,
    /// Attempts OpenAlgo recorded.
    pub openalgo_attempts: u32,
    /// 401s on `/auth/login` in the access logs.
    pub access_log_attempts: u32,
}

/// One failed attempt, from either place.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The address as recorded.
    pub ip: String,
    /// When.
    pub at: Timestamp,
    /// The user name tried (OpenAlgo's rows only).
    pub username: Option<String>,
    /// The user agent.
    pub user_agent: Option<String>,
    /// Whether it came from the access log.
    pub from_log: bool,
}

/// Groups failures per address. The two places see the same wrong password (OpenAlgo writes a
/// row and nginx logs the 401), so an address's attempts are the larger of the two counts, not
/// their sum. `auth_attempts` marks attacks. Most attempts first.
pub fn incidents(failures: &[Failure], auth_attempts: u32) -> Vec<Incident> {
    #[derive(Default)]
    struct Acc {
        db: u32,
        log: u32,
        first: Option<Timestamp>,
        last: Option<Timestamp>,
        names: HashMap<String, u32>,
        agents: Vec<String>,
    }
    let mut by: HashMap<String, Acc> = HashMap::new();
    for f in failures {
        let a = by.entry(shown(Some(&f.ip))).or_default();
        if f.from_log {
            a.log += 1;
        } else {
            a.db += 1;
        }
        a.first = Some(a.first.map_or(f.at, |t| t.min(f.at)));
        a.last = Some(a.last.map_or(f.at, |t| t.max(f.at)));
        if let Some(u) = &f.username {
            *a.names.entry(u.clone()).or_default() += 1;
        }
        if let Some(ua) = f.user_agent.as_ref().filter(|u| !u.is_empty()) {
            if a.agents.len() < 10 && !a.agents.contains(ua) {
                a.agents.push(ua.clone());
            }
        }
    }
    let mut out: Vec<Incident> = by
        .into_iter()
        .filter_map(|(ip, a)| {
            let (first_at, last_at) = (a.first?, a.last?);
            let mut names: Vec<(String, u32)> = a.names.into_iter().collect();
            names.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
            let attempts = a.db.max(a.log);
            Some(Incident {
                ip,
                user_agents: a.agents,
                attempts,
                usernames: names.into_iter().take(20).map(|(n, _)| n).collect(),
                first_at,
                last_at,
                attack: attempts >= auth_attempts,
                source: match (a.db > 0, a.log > 0) {
                    (true, true) => "both",
                    (true, false) => "openalgo",
                    _ => "access_log",
                }
                .into(),
                openalgo_attempts: a.db,
                access_log_attempts: a.log,
            })
        })
        .collect();
    out.sort_by(|a, b| b.attempts.cmp(&a.attempts).then_with(|| b.last_at.cmp(&a.last_at)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ist_is_five_and_a_half_hours_ahead() {
        let t = ist_to_utc("2026-12-04 00:59:23.472316").map(crate::time::rfc3339);
        assert_eq!(t.as_deref(), Some("2026-12-03T19:29:23.472316Z"));
    }

    #[test]
    fn ipv6_addresses_compare_by_their_64() {
        let a = canonicalize("2001:db8:77::5").map(address_key).ok();
        let b = canonicalize("2001:db8:77:0:aaaa::9").map(address_key).ok();
        assert_eq!(a, b);
        assert_eq!(a.as_deref(), Some("2001:db8:77::/64"));
        assert_eq!(key_of("198.51.100.5"), "198.51.100.5");
    }
}
