//! `ip_bans`: read as OpenAlgo's `is_ip_banned` reads it, written as spec §9 says.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::LogsDb;
use crate::engine::BanLength;
use crate::error::Result;
use crate::ip::canonicalize;
use crate::store::value;
use crate::time::{format_db_time, Timestamp};

/// One row of `ip_bans`, decoded leniently.
#[derive(Debug, Clone, PartialEq)]
pub struct BanRow {
    /// Row id.
    pub id: i64,
    /// The address exactly as stored.
    pub ip: String,
    /// Free text (OpenAlgo's or Warden's wording, or a user's).
    pub reason: Option<String>,
    /// Repeat count (NULL when a raw insert omitted it).
    pub ban_count: Option<i64>,
    /// When the ban was made.
    pub banned_at: Option<Timestamp>,
    /// When it ends, if it parses.
    pub expires_at: Option<Timestamp>,
    /// Whether `expires_at` holds non-NULL text, parseable or not.
    pub expires_set: bool,
    /// The permanent flag (NULL is possible from raw inserts).
    pub is_permanent: Option<bool>,
    /// Who made it: `manual`, `404_detector`, `warden:404`, …
    pub created_by: Option<String>,
}

/// What a ban row does at a given moment, by OpenAlgo's own reading rules (spec §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanEffect {
    /// `is_permanent` is true: banned whatever `expires_at` says.
    Permanent,
    /// Banned until this time.
    Until(Timestamp),
    /// Over; OpenAlgo deletes it on the next request from that address.
    Expired,
    /// Never enforced: not permanent with no expiry, or an expiry OpenAlgo cannot parse.
    Ineffective,
}

impl BanRow {
    /// How OpenAlgo treats this row at `now`.
    pub fn effect(&self, now: Timestamp) -> BanEffect {
        if self.is_permanent == Some(true) {
            return BanEffect::Permanent;
        }
        match (self.expires_set, self.expires_at) {
            (true, Some(t)) if now < t => BanEffect::Until(t),
            (true, Some(_)) => BanEffect::Expired,
            _ => BanEffect::Ineffective,
        }
    }

    /// `Some(until)` while the ban is enforced (`None` inside means permanent).
    pub fn active(&self, now: Timestamp) -> Option<Option<Timestamp>> {
        match self.effect(now) {
            BanEffect::Permanent => Some(None),
            BanEffect::Until(t) => Some(Some(t)),
            BanEffect::Expired | BanEffect::Ineffective => None,
        }
    }

    /// Whether Warden wrote this row.
    pub fn by_warden(&self) -> bool {
        self.created_by.as_deref().is_some_and(|c| c.starts_with("warden:"))
    }
}

/// A ban to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBan {
    /// Every spelling to write a row for: the canonical form, plus the raw form when it differs
    /// (OpenAlgo matches the exact string it resolved).
    pub ips: Vec<String>,
    /// The reason text.
    pub reason: String,
    /// How long.
    pub length: BanLength,
    /// When it starts.
    pub at: Timestamp,
    /// `warden:<rule>`.
    pub created_by: String,
    /// Warden's offence number, the least `ban_count` to write.
    pub offence: u32,
}

/// What a ban write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BanWrite {
    /// The rows were written.
    Written {
        /// The `ban_count` written.
        ban_count: i64,
    },
    /// A ban at least as long was already in force, so nothing was changed (Warden never
    /// shortens a ban, and never turns a permanent ban into a temporary one).
    AlreadyStronger,
}

const SELECT: &str = "SELECT id, ip_address, ban_reason, ban_count, banned_at, expires_at, \
                      is_permanent, created_by FROM ip_bans";

fn decode(r: &rusqlite::Row<'_>) -> rusqlite::Result<BanRow> {
    let expires = r.get_ref(5)?;
    Ok(BanRow {
        id: r.get(0)?,
        ip: value::text(r.get_ref(1)?).unwrap_or_default(),
        reason: value::text(r.get_ref(2)?),
        ban_count: value::int(r.get_ref(3)?),
        banned_at: value::time(r.get_ref(4)?),
        expires_set: !matches!(expires, rusqlite::types::ValueRef::Null),
        expires_at: value::time(expires),
        is_permanent: value::boolean(r.get_ref(6)?),
        created_by: value::text(r.get_ref(7)?),
    })
}

impl LogsDb {
    /// Every row of `ip_bans`, including expired and ineffective ones.
    pub fn bans(&self) -> Result<Vec<BanRow>> {
        let ctx = "reading ip_bans";
        let mut stmt = self.conn.prepare_cached(&format!("{SELECT} ORDER BY id")).map_err(|e| self.err(ctx, e))?;
        let rows = stmt.query_map([], decode).map_err(|e| self.err(ctx, e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(|e| self.err(ctx, e))
    }

    /// A fingerprint of every row of `ip_bans`, every column included, computed without
    /// decoding anything, and the number of rows: equal fingerprints mean an unchanged table
    /// (up to a 64-bit hash collision). OpenAlgo updates ban rows in place, so neither the row
    /// count nor the highest id would do.
    pub fn bans_fingerprint(&self) -> Result<(u64, usize)> {
        use std::hash::Hasher;
        let ctx = "reading ip_bans";
        let mut stmt = self.conn.prepare_cached(&format!("{SELECT} ORDER BY id")).map_err(|e| self.err(ctx, e))?;
        let mut rows = stmt.query([]).map_err(|e| self.err(ctx, e))?;
        let mut h = value::Fingerprint::default();
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| self.err(ctx, e))? {
            n += 1;
            for i in 0..8 {
                value::hash_into(&mut h, row.get_ref(i).map_err(|e| self.err(ctx, e))?);
            }
        }
        Ok((h.finish(), n))
    }

    /// Writes a ban: an upsert on `ip_address` for each spelling, with every column set, in one
    /// short `BEGIN IMMEDIATE` transaction. A spelling that already has a ban at least as long in
    /// force is left alone (Warden never shortens a ban or makes a permanent one temporary); the
    /// other spellings are written.
    pub fn write_ban(&mut self, ban: &NewBan) -> Result<BanWrite> {
        let ctx = "writing a ban to ip_bans";
        let path = self.path.clone();
        let err = |e| crate::Error::sqlite(&path, format!("{ctx} in {}", path.display()), e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let new_until = ban.length.expires_at(ban.at);
        let mut to_write = Vec::new();
        let mut ban_count = i64::from(ban.offence.max(1));
        for ip in &ban.ips {
            let row = tx
                .query_row(&format!("{SELECT} WHERE ip_address = ?1"), params![ip], decode)
                .optional()
                .map_err(err)?;
            let stronger = row.as_ref().is_some_and(|r| match (r.active(ban.at), new_until) {
                (Some(None), _) => true,
                (Some(Some(old)), Some(new)) => old >= new,
                _ => false,
            });
            if let Some(count) = row.as_ref().and_then(|r| r.ban_count) {
                ban_count = ban_count.max(count.saturating_add(1));
            }
            if !stronger {
                to_write.push(ip);
            }
        }
        if to_write.is_empty() {
            return Ok(BanWrite::AlreadyStronger);
        }
        for ip in to_write {
            // A row being replaced goes, and the ban gets a new id above every id in use.
            // OpenAlgo deletes an expired ban by the id it read a moment earlier (spec §5.2 d);
            // a ban written over that row in place would be deleted with it. With a new id the
            // stale delete matches nothing (OpenAlgo then fails open for that one request).
            let next: i64 =
                tx.query_row("SELECT COALESCE(MAX(id), 0) + 1 FROM ip_bans", [], |r| r.get(0)).map_err(err)?;
            tx.execute("DELETE FROM ip_bans WHERE ip_address = ?1", [&ip]).map_err(err)?;
            tx.execute(
                "INSERT INTO ip_bans (id, ip_address, ban_reason, ban_count, banned_at, expires_at, is_permanent, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    next,
                    ip,
                    ban.reason,
                    ban_count,
                    format_db_time(ban.at),
                    new_until.map(format_db_time),
                    ban.length.is_permanent(),
                    ban.created_by,
                ],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(BanWrite::Written { ban_count })
    }

    /// Deletes every ban row of this address, in any spelling. Returns how many went.
    pub fn unban(&mut self, ip: &str) -> Result<usize> {
        self.delete_matching("ip_bans", ip)
    }

    /// Deletes the rows of `table` whose `ip_address` is `ip` in any spelling. The rows are found
    /// and deleted inside one `BEGIN IMMEDIATE` transaction, and each delete names the address as
    /// well as the id: ids are reused after deletes (no AUTOINCREMENT), so an id alone could hit
    /// a row OpenAlgo wrote in the meantime.
    pub(super) fn delete_matching(&mut self, table: &'static str, ip: &str) -> Result<usize> {
        let path = self.path.clone();
        let err = |e| crate::Error::sqlite(&path, format!("deleting from {table} in {}", path.display()), e);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
        let rows: Vec<(i64, String)> = {
            let mut stmt = tx.prepare(&format!("SELECT id, ip_address FROM {table}")).map_err(err)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, value::text(r.get_ref(1)?).unwrap_or_default())))
                .map_err(err)?;
            rows.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        let mut n = 0;
        for (id, stored) in rows.iter().filter(|(_, stored)| same_ip(stored, ip)) {
            n += tx
                .execute(&format!("DELETE FROM {table} WHERE id = ?1 AND ip_address = ?2"), params![id, stored])
                .map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(n)
    }
}

/// Whether a stored address string is the same client as `ip` (exact, or the same canonical IP).
pub(super) fn same_ip(stored: &str, ip: &str) -> bool {
    stored == ip
        || match (canonicalize(stored), canonicalize(ip)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
}
