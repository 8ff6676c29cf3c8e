//! Reverse-proxy access logs: nginx first (OpenAlgo's installers put it in front), Apache and
//! Caddy too.
//!
//! nginx sees every client with its true address, including requests it answers itself and
//! clients OpenAlgo attributes wrongly (`TRUST_PROXY_HEADERS` off, Docker gateways).
//!
//! - [`format`](mod@format): `log_format` strings compiled once, and presets.
//! - [`parse`]: one line into a borrowed [`parse::Request`], without allocating (with a cache of
//!   client addresses, `addr_cache`, and of times, `time_cache`).
//! - [`caddy`]: Caddy's JSON lines.
//! - [`classify`]: which requests count for which rule.
//! - [`follow`]: one followed log, with its health and first-start backfill.
//! - [`input`]: a file, plain or gzip, or standard input.
//! - [`lines`]: splitting a stream into lines.
//! - [`pipeline`]: lines through parsing, classification and the engine.
//! - [`scan`]: finding a byte in a short run (a newline in a line).
//! - [`tail`]: following a file across rotations, with a position that survives restarts.

mod addr_cache;
pub mod caddy;
pub mod classify;
mod files;
pub mod follow;
pub mod format;
pub mod input;
pub mod lines;
pub mod parse;
pub mod pipeline;
pub mod scan;
pub mod tail;
mod time_cache;
