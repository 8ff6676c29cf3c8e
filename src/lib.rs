//! Warden: a security monitor for a self-hosted [OpenAlgo](https://github.com/marketcalls/openalgo).
//!
//! Warden watches OpenAlgo's `logs.db` and the proxy's access logs, decides with the same
//! threshold rules as OpenAlgo, and writes bans into `logs.db` in OpenAlgo's exact schema, so that
//! OpenAlgo itself refuses the banned client with a 403. It keeps its own history in a separate
//! state database, so repeat offenders are remembered even after OpenAlgo deletes an expired ban.
//!
//! This crate has no dependency on Tauri: the CLI, the headless monitor and the desktop shell all
//! call the same [`monitor::Monitor`], and the rules live only in [`engine`].
//!
//! # Layout
//! - [`error`]: the one error type and its `Result` alias; every message says what to do.
//! - [`ip`]: IP canonicalization and the addresses that are never banned.
//! - [`time`]: the timestamp spellings of `logs.db`, and how Warden writes them.
//! - [`config`]: thresholds, paths and the allow-list, validated once when loaded.
//! - [`event`]: the rules and the one input shape that every source produces.
//! - [`engine`]: pure rules: windows, thresholds, offences, protection. Time is passed in.
//! - [`store`]: SQLite by table: OpenAlgo's `logs.db` and `settings`, and Warden's own state.
//! - [`source`]: the incremental reader of `logs.db`.
//! - [`watch`]: file-system notifications turned into wake-ups, with a slow poll as fallback.
//! - [`monitor`]: wires sources to the engine and the engine to the stores, and reports [`monitor::Notice`]s.
//! - [`cli`]: the `warden` command line (its options are shared with the desktop app).
//! - [`actions`]: manual ban, unban and clear, with an audit entry each (shared by CLI and GUI).
//! - [`replay`]: old access logs through the engine in event time (`warden replay`).
//! - [`report`]: the read-only views behind `status`, `bans` and `trackers`.
//! - [`dashboard`]: the desktop app's views and actions, without Tauri (its commands call these).
//! - [`demo`]: a throw-away workspace with a simulated OpenAlgo writing into a real `logs.db`.
#![deny(missing_docs)]

pub mod actions;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod engine;
pub mod error;
pub mod event;
pub mod ip;
pub mod monitor;
pub mod replay;
pub mod report;
pub mod source;
pub mod store;
pub mod time;
pub mod watch;

pub use error::{Error, Result};
