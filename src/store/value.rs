//! Lenient decoding of SQLite values that another program wrote.
//!
//! SQLite lets any column hold any type, and OpenAlgo's Python-side defaults are absent from its
//! DDL, so a row may carry NULL counts, integer "addresses" or text booleans. These helpers turn
//! each into the value Warden needs, or `None`, and never fail.

use rusqlite::types::ValueRef;

use crate::time::{parse_db_time, Timestamp};

/// Text as stored; numbers are rendered, blobs are read as lossy UTF-8, NULL is `None`.
pub fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Text(b) | ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).into_owned()),
    }
}

/// An integer; text that holds one is accepted, anything else is `None`.
pub fn int(v: ValueRef<'_>) -> Option<i64> {
    match v {
        ValueRef::Integer(i) => Some(i),
        ValueRef::Real(f) if f.is_finite() && f.fract() == 0.0 => Some(f as i64),
        ValueRef::Text(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A float (durations); integers and numeric text are accepted.
pub fn real(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(f) => Some(f),
        ValueRef::Text(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean as SQLAlchemy stores it (0/1); `'true'`/`'false'` text is accepted too.
pub fn boolean(v: ValueRef<'_>) -> Option<bool> {
    match v {
        ValueRef::Null => None,
        ValueRef::Text(b) => match std::str::from_utf8(b).ok()?.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "t" | "yes" => Some(true),
            "0" | "false" | "f" | "no" => Some(false),
            _ => None,
        },
        other => int(other).map(|i| i != 0),
    }
}

/// A timestamp in any spelling [`parse_db_time`] accepts.
pub fn time(v: ValueRef<'_>) -> Option<Timestamp> {
    match v {
        ValueRef::Text(b) => parse_db_time(std::str::from_utf8(b).ok()?),
        _ => None,
    }
}

/// A JSON array of strings (`paths_attempted`, `api_keys_tried`). Non-string members are dropped;
/// anything that is not a JSON array gives `None`.
pub fn string_list(v: ValueRef<'_>) -> Option<Vec<String>> {
    let raw = text(v)?;
    let parsed: serde_json::Value = serde_json::from_str(&raw).ok()?;
    Some(parsed.as_array()?.iter().filter_map(|item| item.as_str().map(str::to_string)).collect())
}

/// A fast 64-bit hash for telling a changed row from an unchanged one (FxHash's mixing, eight
/// bytes at a time). Not for maps an attacker fills, and not for anything secret: a row's
/// change is all it detects, and a collision only delays a reading to the next change.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fingerprint(u64);

impl Fingerprint {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for Fingerprint {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }

    fn write_i64(&mut self, i: i64) {
        self.mix(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Feeds a value, type and all, to a hasher without copying it: what the reader of `logs.db`
/// compares between polls to tell a changed row from one it has already read.
pub fn hash_into(h: &mut impl std::hash::Hasher, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => h.write_u8(0),
        ValueRef::Integer(i) => {
            h.write_u8(1);
            h.write_i64(i);
        }
        ValueRef::Real(f) => {
            h.write_u8(2);
            h.write_u64(f.to_bits());
        }
        ValueRef::Text(b) => {
            h.write_u8(3);
            h.write_usize(b.len());
            h.write(b);
        }
        ValueRef::Blob(b) => {
            h.write_u8(4);
            h.write_usize(b.len());
            h.write(b);
        }
    }
}
