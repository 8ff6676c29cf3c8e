//! Sources: where observations come from. Each turns what it reads into engine inputs.
//!
//! - [`openalgo`]: OpenAlgo's `logs.db`, read incrementally.

pub mod openalgo;
