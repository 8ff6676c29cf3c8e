//! Reverse-proxy access logs: nginx first (OpenAlgo's installers put it in front), Apache and
//! Caddy too.
//!
//! nginx sees every client with its true address, including requests it answers itself and
//! clients OpenAlgo attributes wrongly (`TRUST_PROXY_HEADERS` off, Docker gateways).
//!
//! - [`format`]: `log_format` strings compiled once, and presets.
//! - [`caddy`]: Caddy's JSON lines.
//! - [`parse`]: one line into a borrowed [`parse::Request`], without allocating.

pub mod caddy;
pub mod format;
pub mod parse;
