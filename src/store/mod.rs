//! SQLite by table: OpenAlgo's `logs.db`, OpenAlgo's `settings`, and Warden's own state; and the
//! private files Warden writes ([`private`]).
//!
//! Each table's DDL sits beside its queries. Every query is parameterized. Values read from
//! OpenAlgo's files are decoded leniently (see [`value`]), because anything can be in them: other
//! writers, old versions and attacker-chosen strings all end up there.

pub mod logs_db;
pub mod openalgo_settings;
pub mod private;
pub mod saver;
pub mod state;
pub mod value;
pub mod wal;

pub use logs_db::{LogsDb, TrafficQuery, TrafficRow};
pub use openalgo_settings::SettingsRow;
pub use state::StateDb;
