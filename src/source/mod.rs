//! Sources: where observations come from. Each turns what it reads into engine inputs.
//!
//! - [`openalgo`]: OpenAlgo's `logs.db`, read incrementally.
//! - [`access`]: reverse-proxy access logs (nginx, Apache, Caddy): parsed, classified, tailed.
//! - [`own`]: the addresses the trader is using, which are never banned.
//! - [`signins`]: OpenAlgo's sign-in audit (`login_attempts`, `active_sessions` in `openalgo.db`).
//! - [`minutes`]: requests per minute by status class, counted as the sources read them.

pub mod access;
pub mod minutes;
pub mod openalgo;
pub mod own;
pub mod signins;
