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
