//! From a request to what the rules count. The defaults follow OpenAlgo's meaning; every one is
//! configurable (`[classify]` in the configuration).

use serde::{Deserialize, Serialize};

use super::parse::Request;
use crate::event::{has_prefix, Rule, What, SAFE_404_PREFIXES};

/// Which requests count for which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Classify {
    /// Statuses that count as "not found" (default `[404]`).
    pub not_found_status: Vec<u16>,
    /// Paths whose 404 is never counted (default: OpenAlgo's own list, `/favicon`, `/robots.txt`, …).
    pub safe_404_prefixes: Vec<String>,
    /// Statuses that mean an invalid API key (default `[403]`, OpenAlgo's answer to a bad key)…
    pub invalid_key_status: Vec<u16>,
    /// …on paths with this prefix (default `/api/v1/`).
    pub invalid_key_prefix: String,
    /// Statuses that mean a failed login (default `[401]`)…
    pub failed_login_status: Vec<u16>,
    /// …on this path (default `/auth/login`).
    pub failed_login_path: String,
    /// Spare an address whose API calls also succeed (a 2xx under `invalid_key_prefix` in the
    /// last 24 h) a ban for invalid keys, and report it instead: it holds a working key, so its
    /// failures are one of the trader's own programs retrying with an old key (default on).
    pub spare_working_keys: bool,
}

impl Default for Classify {
    fn default() -> Self {
        Self {
            not_found_status: vec![404],
            safe_404_prefixes: SAFE_404_PREFIXES.iter().map(|s| s.to_string()).collect(),
            invalid_key_status: vec![403],
            invalid_key_prefix: "/api/v1/".into(),
            failed_login_status: vec![401],
            failed_login_path: "/auth/login".into(),
            spare_working_keys: true,
        }
    }
}

const NOT_FOUND: u8 = 1;
const BAD_KEY: u8 = 2;
const BAD_LOGIN: u8 = 4;
/// A 2xx, which under the API prefix shows a working key (only when working keys are spared).
const WORKING: u8 = 8;

/// The rule a request counts for, with the item it carries (the path of a 404), if any.
pub type Counted<'a> = Option<(Rule, Option<&'a [u8]>)>;

/// A path prefix of at most eight bytes as one masked 64-bit word, so that the check a busy API
/// makes on every successful call is two loads and a compare instead of a `memcmp` call.
#[derive(Debug, Clone, Copy)]
struct Word {
    value: u64,
    mask: u64,
}

impl Word {
    fn of(prefix: &[u8]) -> Option<Self> {
        if prefix.is_empty() || prefix.len() > 8 {
            return None;
        }
        let mut v = [0u8; 8];
        v[..prefix.len()].copy_from_slice(prefix);
        let mask = if prefix.len() == 8 { u64::MAX } else { (1u64 << (8 * prefix.len())) - 1 };
        Some(Self { value: u64::from_le_bytes(v), mask })
    }
}

/// [`Classify`] compiled for the hot loop: one table lookup per status.
#[derive(Debug, Clone)]
pub struct Classifier {
    by_status: Box<[u8; 1000]>,
    safe: Vec<Vec<u8>>,
    key_prefix: Vec<u8>,
    key_word: Option<Word>,
    login_path: Vec<u8>,
}

impl Classify {
    /// Compiles the rules.
    pub fn compile(&self) -> Classifier {
        let mut by_status = Box::new([0u8; 1000]);
        let mut mark = |list: &[u16], flag: u8| {
            for s in list {
                if let Some(slot) = by_status.get_mut(usize::from(*s)) {
                    *slot |= flag;
                }
            }
        };
        mark(&self.not_found_status, NOT_FOUND);
        mark(&self.invalid_key_status, BAD_KEY);
        mark(&self.failed_login_status, BAD_LOGIN);
        if self.spare_working_keys {
            mark(&(200..300).collect::<Vec<u16>>(), WORKING);
        }
        Classifier {
            by_status,
            safe: self.safe_404_prefixes.iter().map(|p| p.as_bytes().to_vec()).collect(),
            key_prefix: self.invalid_key_prefix.as_bytes().to_vec(),
            key_word: Word::of(self.invalid_key_prefix.as_bytes()),
            login_path: self.failed_login_path.as_bytes().to_vec(),
        }
    }
}

impl Classifier {
    /// The rule `req` counts for and the item it carries (the path of a 404), without
    /// allocating. Most requests count for nothing but traffic and rate.
    #[inline(always)]
    pub fn rule_of<'a>(&self, req: &Request<'a>) -> Option<(Rule, Option<&'a [u8]>)> {
        self.line(req).0
    }

    /// [`Classifier::rule_of`], and whether `req` is a successful API call (a 2xx under the API
    /// prefix), which shows that its client holds a working key (always `false` when working
    /// keys are not spared). One table lookup for both.
    #[inline(always)]
    pub fn line<'a>(&self, req: &Request<'a>) -> (Counted<'a>, bool) {
        match self.by_status.get(usize::from(req.status)).copied().unwrap_or(0) {
            0 => (None, false),
            WORKING => (None, self.under_key_prefix(req.target)),
            flags if flags & !WORKING == 0 => (None, false),
            flags => (self.rule_by_path(req, flags & !WORKING), false),
        }
    }

    /// [`Classifier::rule_of`] for a status that counts for some rule: the path decides.
    #[inline(never)]
    fn rule_by_path<'a>(&self, req: &Request<'a>, flags: u8) -> Option<(Rule, Option<&'a [u8]>)> {
        let path = req.path();
        if flags & NOT_FOUND != 0 {
            if self.safe.iter().any(|p| has_prefix(path, p)) {
                return None;
            }
            return Some((Rule::NotFound, Some(path)));
        }
        if flags & BAD_KEY != 0 && has_prefix(path, &self.key_prefix) {
            // nginx never sees the key, only OpenAlgo's 403: no hash to keep.
            return Some((Rule::InvalidApiKey, None));
        }
        if flags & BAD_LOGIN != 0 && path == self.login_path.as_slice() {
            return Some((Rule::FailedLogin, None));
        }
        None
    }

    /// Whether `target` starts with the API prefix.
    #[inline(always)]
    fn under_key_prefix(&self, target: &[u8]) -> bool {
        match (self.key_word, target.first_chunk::<8>()) {
            (Some(w), Some(head)) => u64::from_le_bytes(*head) & w.mask == w.value,
            _ => has_prefix(target, &self.key_prefix),
        }
    }

    /// [`Classifier::rule_of`] as an owned [`What`].
    pub fn what(&self, req: &Request<'_>) -> Option<What> {
        self.rule_of(req).map(|(rule, item)| match rule {
            Rule::NotFound => What::NotFound { path: String::from_utf8_lossy(item.unwrap_or_default()).into_owned() },
            Rule::InvalidApiKey => What::InvalidApiKey { key_hash: None },
            _ => What::FailedLogin,
        })
    }
}
