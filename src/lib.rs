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
//! The modules form layers, and every `use crate::…` points down (or sideways within a layer):
//!
//! 1. The base, which depends on nothing else of Warden's:
//!    - [`error`]: the one error type and its `Result` alias; every message says what to do.
//!    - [`time`]: the timestamp spellings of `logs.db`, and how Warden writes them.
//!    - [`ip`]: IP canonicalization, the trader's own addresses, and the addresses never banned.
//!    - [`event`]: the rules and the one input shape that every source produces.
//!    - [`policy`]: access policies, and the desired state every enforcement point converges on.
//! 2. [`engine`]: pure rules: windows, thresholds, offences, protection. Time is passed in. It
//!    depends only on the base.
//! 3. The edges, which depend on the engine's types and the base:
//!    - [`store`]: SQLite by table (OpenAlgo's `logs.db` and `settings`, Warden's own state) and
//!      the private files Warden writes;
//!    - [`source`]: the access-log parser and tailer, the incremental reader of `logs.db` (through
//!      the store's table code), and where the trader's own addresses are found;
//!    - [`watch`]: file-system notifications turned into wake-ups, with a slow poll as fallback;
//!    - [`enforce`]: the enforcement points beyond `logs.db` (nginx's `geo` file, an nftables
//!      table), each converging on the desired state;
//!    - [`alert`]: alert channels beyond the desktop (Telegram, Discord, ntfy, webhooks), with
//!      their delivery queue, and the words every alert shares;
//!    - [`export`]: Prometheus metrics, a JSON-lines event file and syslog, for a SIEM;
//!    - [`crowdsec`]: bans shared through CrowdSec's Local API (pushed and pulled).
//! 4. [`config`]: thresholds, paths and the allow-list, validated once when loaded.
//! 5. [`monitor`]: wires sources to the engine and the engine to the stores, and reports
//!    [`monitor::Notice`]s.
//! 6. On top, what users call:
//!    - [`cli`]: the `warden` command line (its options are shared with the desktop app);
//!    - [`actions`]: manual ban, unban and clear, with an audit entry each (shared by CLI and GUI);
//!    - [`access`]: access policies, the allow-list-only mode and enforcing now (shared likewise);
//!    - [`replay`]: old access logs through the engine in event time (`warden replay`);
//!    - [`report`]: the read-only views behind `status`, `bans` and `trackers`;
//!    - [`logins`]: the sign-ins and failed sign-ins behind `signins` and `incidents`;
//!    - [`check`]: the security checklist of the trader's own server (`warden check`);
//!    - [`dashboard`]: the desktop app's views and actions, without Tauri (its commands call these);
//!    - [`demo`]: a throw-away workspace with a simulated OpenAlgo writing into a real `logs.db`.
#![deny(missing_docs)]

pub mod access;
pub mod actions;
pub mod alert;
pub mod check;
pub mod cli;
pub mod config;
pub mod crowdsec;
pub mod dashboard;
pub mod demo;
pub mod enforce;
pub mod engine;
pub mod error;
pub mod event;
pub mod export;
pub mod ip;
pub mod logins;
pub mod monitor;
pub mod policy;
pub mod replay;
pub mod report;
pub mod source;
pub mod store;
pub mod time;
pub mod watch;

pub use error::{Error, Result};
