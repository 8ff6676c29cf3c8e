//! Warden's integration tests: one binary, one module per area, tests named by behaviour.

#![allow(clippy::unwrap_used)]

mod common;

mod access_logs;
mod alerts;
mod check;
mod cli;
mod crowdsec;
mod dashboard;
mod enforce;
mod enforce_property;
mod engine_rules;
mod exports;
mod logs_db_fixtures;
mod logs_db_writes;
mod monitor;
mod parsers;
mod protection;
mod tailing;
