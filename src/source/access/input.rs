//! One access-log input, plain or gzip (recognised by its magic bytes, not its name), or standard
//! input: what the tailer reads rotated files through, and what `warden replay` reads.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// One input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file, plain or gzip.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// `-` is standard input; anything else a path.
    pub fn parse(arg: &str) -> Self {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(arg))
        }
    }

    /// How messages name it: the path, or "standard input".
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "standard input".into(),
        }
    }

    /// Opens the input, decompressing gzip transparently.
    pub fn open(&self) -> Result<Box<dyn Read>> {
        let raw: Box<dyn Read> = match self {
            Input::File(p) => Box::new(File::open(p).map_err(|e| Error::io(format!("opening {}", p.display()), e))?),
            Input::Stdin => Box::new(io::stdin().lock()),
        };
        let mut buffered = BufReader::with_capacity(1 << 16, raw);
        let gz = buffered
            .fill_buf()
            .map_err(|e| Error::io(format!("reading {}", self.name()), e))?
            .starts_with(&[0x1f, 0x8b]);
        Ok(if gz { Box::new(MultiGzDecoder::new(buffered)) } else { Box::new(buffered) })
    }
}
