//! OpenAlgo's `.env`, read as python-dotenv reads it: `KEY=value` lines, an optional `export `,
//! single or double quotes, and `#` comments. Anything that would make the reading uncertain (a
//! quote never closed, bytes that are not text, a file far larger than any `.env`) makes the whole
//! file unreadable, with the reason, rather than half-read: a checklist must never pass a setting
//! it could not see.

use std::collections::BTreeMap;

/// The largest `.env` Warden reads. OpenAlgo's sample is about 10 KiB.
pub const MAX_ENV_BYTES: usize = 1 << 20;

/// One setting of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvValue {
    /// The value, unquoted.
    pub value: String,
    /// The line it was set on (the last one, when a key is set twice, as python-dotenv keeps it).
    pub line: usize,
}

/// The settings of a `.env` file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvFile {
    /// Each key's value.
    pub vars: BTreeMap<String, EnvValue>,
}

impl EnvFile {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(|v| v.value.as_str())
    }

    /// The line `key` was set on.
    pub fn line(&self, key: &str) -> Option<usize> {
        self.vars.get(key).map(|v| v.line)
    }

    /// `key` read as OpenAlgo reads a flag: `true`, `1`, `yes` or `t` in any case is on. `None`
    /// when the key is not set.
    pub fn flag(&self, key: &str) -> Option<bool> {
        self.get(key).map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "t"))
    }
}

/// Parses the bytes of a `.env` file, or says in one sentence why it cannot be read.
pub fn parse(bytes: &[u8]) -> Result<EnvFile, String> {
    if bytes.len() > MAX_ENV_BYTES {
        return Err(format!(
            "it is {} bytes, far larger than any .env (over {} KiB)",
            bytes.len(),
            MAX_ENV_BYTES >> 10
        ));
    }
    if bytes.contains(&0) {
        return Err("it holds binary data (a NUL byte), not settings".into());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("it is not text (invalid UTF-8 at byte {})", e.valid_up_to()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = EnvFile::default();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((key, rest)) = line.split_once('=') else {
            // python-dotenv ignores a line without `=`; so does Warden.
            continue;
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
            continue;
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                // A quoted value may span lines, as python-dotenv allows.
                let mut body = rest[1..].to_string();
                loop {
                    if let Some(end) = closing(&body, q) {
                        let inner = &body[..end];
                        break if q == '"' { unescape(inner) } else { inner.to_string() };
                    }
                    match lines.next() {
                        Some((_, more)) => {
                            body.push('\n');
                            body.push_str(more);
                        }
                        None => {
                            return Err(format!("line {}: the quote that opens {key}'s value is never closed", i + 1));
                        }
                    }
                }
            }
            _ => {
                // An unquoted value ends at ` #` (a comment).
                let v = match rest.find(" #").or_else(|| rest.find("\t#")) {
                    Some(at) => &rest[..at],
                    None => rest,
                };
                v.trim().to_string()
            }
        };
        out.vars.insert(key.to_string(), EnvValue { value, line: i + 1 });
    }
    Ok(out)
}

/// The index of the quote that closes a value opened by `q` (a backslash escapes a double quote).
fn closing(body: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        if q == '"' && c == '\\' && !escaped {
            escaped = true;
            continue;
        }
        if c == q && !escaped {
            return Some(i);
        }
        escaped = false;
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quotes_comments_exports_and_flags_as_python_dotenv_does() {
        let env = parse(
            b"# a comment\nFLASK_DEBUG = 'False'\nexport APP_KEY=\"ab\\\"cd\" # trailing\nHOST_SERVER=http://x:5000 # c\n\
              TRUST_PROXY_HEADERS=TRUE\nEMPTY=\nNO_EQUALS_LINE\nMULTI=\"one\ntwo\"\nFLASK_DEBUG=t\n",
        )
        .expect("parses");
        assert_eq!(env.get("APP_KEY"), Some("ab\"cd"));
        assert_eq!(env.get("HOST_SERVER"), Some("http://x:5000"));
        assert_eq!(env.get("EMPTY"), Some(""));
        assert_eq!(env.get("MULTI"), Some("one\ntwo"));
        assert_eq!(env.flag("TRUST_PROXY_HEADERS"), Some(true));
        assert_eq!(env.flag("FLASK_DEBUG"), Some(true), "the last setting wins");
        assert_eq!(env.line("FLASK_DEBUG"), Some(10));
        assert_eq!(env.flag("MISSING"), None);
    }

    #[test]
    fn broken_quoting_binary_and_huge_files_are_refused_with_the_reason() {
        let e = parse(b"A=1\nAPP_KEY='abc\nB=2\n").expect_err("unclosed quote");
        assert!(e.contains("line 2") && e.contains("APP_KEY"), "{e}");
        assert!(parse(b"A=\x00\x01").expect_err("binary").contains("binary"));
        assert!(parse(b"A=\xff\xfe").expect_err("not utf-8").contains("not text"));
        assert!(parse(&vec![b'#'; MAX_ENV_BYTES + 1]).expect_err("huge").contains("larger"));
    }
}
