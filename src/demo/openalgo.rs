//! An emulator of OpenAlgo's security code, writing into a real `logs.db` as OpenAlgo 2.0.2.1
//! does with its auto-ban off (its shipped default).
//!
//! It follows spec §5.2, §5.6, §5.7 and §5.8: `is_ip_banned` with lazy deletion of expired rows,
//! the 404 tracker with its fixed 24 h window and 50 paths, the API-key tracker with its 5-minute
//! cache of invalid keys and 20 hashes, and traffic rows. New rows carry SQLite-style second
//! timestamps and updates carry Python-style microsecond ones, as in OpenAlgo's files. It
//! exists for the demo workspace and for tests; it is a second writer on its own connection,
//! exactly like OpenAlgo next to Warden.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::engine::WINDOW;
use crate::error::{Error, Result};
use crate::event::{api_key_hash, is_safe_404};
use crate::store::logs_db::BUSY_TIMEOUT;
use crate::store::value;
use crate::time::{format_db_time, format_db_time_secs, Timestamp};

/// OpenAlgo's side of `logs.db`, auto-ban off.
#[derive(Debug)]
pub struct OpenAlgoEmulator {
    conn: Connection,
    invalid_keys: HashMap<String, Timestamp>,
}

impl OpenAlgoEmulator {
    /// Opens an existing `logs.db` with OpenAlgo's connection settings.
    pub fn open(path: &Path) -> Result<Self> {
        let err = |e| Error::sqlite(path, format!("opening {} as OpenAlgo", path.display()), e);
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0)).map_err(err)?;
        Ok(Self { conn, invalid_keys: HashMap::new() })
    }

    fn err(e: rusqlite::Error) -> Error {
        Error::Sqlite { context: "emulating OpenAlgo".into(), source: e }
    }

    /// OpenAlgo's `is_ip_banned`: exact string match; an expired row is deleted on the spot.
    pub fn is_ip_banned(&self, ip: &str, now: Timestamp) -> Result<bool> {
        let row = self
            .conn
            .query_row("SELECT id, is_permanent, expires_at FROM ip_bans WHERE ip_address = ?1", params![ip], |r| {
                Ok((r.get::<_, i64>(0)?, value::boolean(r.get_ref(1)?), value::time(r.get_ref(2)?)))
            })
            .optional()
            .map_err(Self::err)?;
        let Some((id, permanent, expires)) = row else { return Ok(false) };
        if permanent == Some(true) {
            return Ok(true);
        }
        match expires {
            Some(t) if now < t => Ok(true),
            Some(_) => {
                self.conn.execute("DELETE FROM ip_bans WHERE id = ?1", params![id]).map_err(Self::err)?;
                Ok(false)
            }
            None => Ok(false),
        }
    }

    /// The purge OpenAlgo's dashboard runs (`get_all_bans`, §5.5): a **text** comparison of
    /// `expires_at` with "now" written as `YYYY-MM-DD HH:MM:SS.ffffff`. Returns the rows deleted.
    pub fn purge_expired_bans(&self, now: Timestamp) -> Result<usize> {
        self.conn
            .execute("DELETE FROM ip_bans WHERE is_permanent = 0 AND expires_at < ?1", params![format_db_time(now)])
            .map_err(Self::err)
    }

    /// A 404 reached OpenAlgo's error handler (§5.6, auto-ban off).
    pub fn track_404(&mut self, ip: &str, path: &str, now: Timestamp) -> Result<()> {
        if is_safe_404(path) || self.is_ip_banned(ip, now)? {
            return Ok(());
        }
        self.track(
            "error_404_tracker",
            "error_count",
            "first_error_at",
            "last_error_at",
            "paths_attempted",
            50,
            ip,
            Some(path),
            now,
        )
    }

    /// An invalid API key reached `verify_api_key` (§5.7, auto-ban off). The same key within five
    /// minutes counts once; the raw key is hashed at once and never stored.
    pub fn track_invalid_key(&mut self, ip: &str, key: &str, now: Timestamp) -> Result<()> {
        let full = {
            use sha2::{Digest, Sha256};
            Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        self.invalid_keys.retain(|_, at| now - *at < chrono::Duration::minutes(5));
        if self.invalid_keys.contains_key(&full) {
            return Ok(());
        }
        self.invalid_keys.insert(full, now);
        if self.is_ip_banned(ip, now)? {
            return Ok(());
        }
        let hash = api_key_hash(key);
        self.track(
            "invalid_api_key_tracker",
            "attempt_count",
            "first_attempt_at",
            "last_attempt_at",
            "api_keys_tried",
            20,
            ip,
            Some(&hash),
            now,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn track(
        &mut self,
        table: &'static str,
        count_col: &'static str,
        first_col: &'static str,
        last_col: &'static str,
        items_col: &'static str,
        keep: usize,
        ip: &str,
        item: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT id, {count_col}, {first_col}, {items_col} FROM {table} WHERE ip_address = ?1 LIMIT 1"),
                params![ip],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        value::int(r.get_ref(1)?),
                        value::text(r.get_ref(2)?),
                        value::string_list(r.get_ref(3)?),
                    ))
                },
            )
            .optional()
            .map_err(Self::err)?;
        // Python's json.dumps separates with ", ".
        let json = |items: &[String]| {
            let parts: Vec<String> = items.iter().map(|i| serde_json::Value::from(i.as_str()).to_string()).collect();
            format!("[{}]", parts.join(", "))
        };
        match row {
            None => {
                let items: Vec<String> = item.map(str::to_string).into_iter().collect();
                let created = format_db_time_secs(now);
                self.conn
                    .execute(
                        &format!("INSERT INTO {table} (ip_address, {count_col}, {first_col}, {last_col}, {items_col}) VALUES (?1, 1, ?2, ?2, ?3)"),
                        params![ip, created, json(&items)],
                    )
                    .map_err(Self::err)?;
            }
            Some((id, count, first, items)) => {
                let first_at = first.as_deref().and_then(crate::time::parse_db_time);
                let over = first_at.is_none_or(|f| now - f >= WINDOW);
                let (count, first, items) = if over {
                    (1, format_db_time(now), item.map(str::to_string).into_iter().collect())
                } else {
                    let mut items = items.unwrap_or_default();
                    if let Some(i) = item {
                        if !items.iter().any(|x| x == i) {
                            items.push(i.to_string());
                        }
                    }
                    let drop = items.len().saturating_sub(keep);
                    items.drain(..drop);
                    let first = first.unwrap_or_default();
                    (count.unwrap_or(1) + 1, first, items)
                };
                self.conn
                    .execute(
                        &format!("UPDATE {table} SET {count_col} = ?1, {first_col} = ?2, {last_col} = ?3, {items_col} = ?4 WHERE id = ?5"),
                        params![count, first, format_db_time(now), json(&items), id],
                    )
                    .map_err(Self::err)?;
            }
        }
        Ok(())
    }

    /// A request OpenAlgo served (§5.8). Requests from banned addresses never reach this.
    #[allow(clippy::too_many_arguments)]
    pub fn log_traffic(
        &self,
        ip: &str,
        method: &str,
        path: &str,
        status: u16,
        duration_ms: f64,
        host: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO traffic_logs (timestamp, client_ip, method, path, status_code, duration_ms, host, error, user_id) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, NULL)",
                params![format_db_time_secs(now), ip, method, path, status, duration_ms, host],
            )
            .map_err(Self::err)?;
        Ok(())
    }
}
