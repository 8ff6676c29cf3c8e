//! Sources: where observations come from. Each turns what it reads into engine inputs.
//!
//! - [`openalgo`]: OpenAlgo's `logs.db`, read incrementally.
//! - [`access`]: reverse-proxy access logs (nginx, Apache, Caddy): parsed, classified, tailed.

pub mod access;
pub mod openalgo;
