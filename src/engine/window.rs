//! OpenAlgo's fixed 24-hour counting window, stored compactly.
//!
//! A busy server meets a million distinct scanner addresses; each gets a counter. So a counter is
//! 32 bytes (36 with its IPv4 key) with no allocation of its own: the paths and key hashes it remembers are interned
//! once per engine ([`Interner`]) and referred to by number, two inline, more in a shared side
//! table. What is saved and shown goes through [`WindowRecord`], with the strings.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::interner::{Interner, GONE};
use crate::event::Rule;
use crate::time::Timestamp;

/// The window length. Fixed, like OpenAlgo's: the reason texts say "in 24 hours".
pub const WINDOW: Duration = Duration::hours(24);

/// OpenAlgo counts the same invalid key once per five minutes (its negative-key cache, §5.7).
pub const SAME_KEY_GAP: Duration = Duration::minutes(5);

/// Most distinct items kept per window, as OpenAlgo keeps them: 50 paths, 20 key hashes.
pub fn max_items(rule: Rule) -> usize {
    match rule {
        Rule::NotFound => 50,
        Rule::InvalidApiKey => 20,
        Rule::FailedLogin | Rule::Rate => 0,
    }
}

/// `t + d`, saturating instead of overflowing on absurd times read from a file.
pub fn later(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

const NO_LIST: u32 = u32::MAX;

/// A counter for one address and one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Events counted in this window.
    pub count: u32,
    /// Unix seconds, clamped to what a u32 holds (1970 to 2106): 4 bytes instead of 8.
    first_secs: u32,
    first_micros: u32,
    last_off: u32,
    /// Up to two item ids inline; `len` says how many items in all.
    inline: [u32; 2],
    len: u8,
    /// Index of the overflow list in the interner (all items), or `NO_LIST`.
    list: u32,
}

/// A window with its strings, for saving and showing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRecord {
    /// Events counted.
    pub count: u32,
    /// Window start.
    pub first_at: Timestamp,
    /// Latest event.
    pub last_at: Timestamp,
    /// Distinct paths or key hashes, oldest first.
    pub items: Vec<String>,
}

impl Window {
    /// A new window holding one event.
    pub fn start(rule: Rule, at: Timestamp, item: Option<&[u8]>, interner: &mut Interner) -> Self {
        let mut w = Self {
            count: 1,
            first_secs: at.timestamp().clamp(0, i64::from(u32::MAX)) as u32,
            first_micros: at.timestamp_subsec_micros(),
            last_off: 0,
            inline: [0; 2],
            len: 0,
            list: NO_LIST,
        };
        w.push_item(rule, item, interner);
        w
    }

    /// When the window started.
    pub fn first_at(&self) -> Timestamp {
        DateTime::from_timestamp(i64::from(self.first_secs), self.first_micros * 1000).unwrap_or_default()
    }

    /// The latest event (to the second).
    pub fn last_at(&self) -> Timestamp {
        later(self.first_at(), Duration::seconds(i64::from(self.last_off)))
    }

    /// Whether the window has run its course at `at`. OpenAlgo's test is
    /// `(now - first).days >= 1`, so the reset happens at exactly 24 hours.
    pub fn is_over(&self, at: Timestamp) -> bool {
        // In whole seconds and microseconds, as `first_at() + WINDOW <= at` would say, without
        // building two dates on every request.
        let end = i64::from(self.first_secs) + WINDOW.num_seconds();
        (at.timestamp(), at.timestamp_subsec_micros()) >= (end, self.first_micros)
    }

    /// Counts one more event: restarts the window when it is over, otherwise adds to it.
    /// Returns whether the event was counted.
    pub fn record(&mut self, rule: Rule, at: Timestamp, item: Option<&[u8]>, interner: &mut Interner) -> bool {
        if self.is_over(at) {
            self.release(interner);
            *self = Self::start(rule, at, item, interner);
            return true;
        }
        self.count = self.count.saturating_add(1);
        let off = (at - self.first_at()).num_seconds().clamp(0, i64::from(u32::MAX)) as u32;
        self.last_off = self.last_off.max(off);
        self.push_item(rule, item, interner);
        true
    }

    fn ids(&self, interner: &Interner) -> Vec<u32> {
        if self.list != NO_LIST {
            interner.lists.get(self.list as usize).cloned().unwrap_or_default()
        } else {
            self.inline[..usize::from(self.len).min(2)].to_vec()
        }
    }

    fn push_item(&mut self, rule: Rule, item: Option<&[u8]>, interner: &mut Interner) {
        let Some(id) = item.and_then(|i| interner.id(i)) else { return };
        let cap = max_items(rule);
        if cap == 0 {
            return;
        }
        // In place: a busy window is touched on every request it counts, so no copy of its list.
        if self.list != NO_LIST {
            if let Some(list) = interner.lists.get_mut(self.list as usize) {
                if !list.contains(&id) {
                    if list.len() >= cap {
                        list.remove(0);
                    }
                    list.push(id);
                    self.len = list.len().min(255) as u8;
                }
                return;
            }
        }
        let n = usize::from(self.len).min(2);
        if self.inline[..n].contains(&id) {
            return;
        }
        if n < 2 && n < cap {
            self.inline[n] = id;
            self.len = n as u8 + 1;
            return;
        }
        let mut ids = self.inline[..n].to_vec();
        if ids.len() >= cap {
            ids.remove(0);
        }
        ids.push(id);
        if ids.len() <= 2 {
            self.inline[..ids.len()].copy_from_slice(&ids);
            self.len = ids.len() as u8;
        } else {
            self.len = ids.len().min(255) as u8;
            self.list = interner.new_list(ids);
        }
    }

    /// Gives back the overflow list; call before dropping a window.
    pub fn release(&self, interner: &mut Interner) {
        if self.list != NO_LIST {
            interner.release(self.list);
        }
    }

    /// This window with its strings.
    pub fn record_of(&self, interner: &Interner) -> WindowRecord {
        WindowRecord {
            count: self.count,
            first_at: self.first_at(),
            last_at: self.last_at(),
            items: self.ids(interner).into_iter().map(|id| interner.string(id)).collect(),
        }
    }

    /// A window from a saved record.
    pub fn from_record(rule: Rule, r: &WindowRecord, interner: &mut Interner) -> Self {
        let mut w = Self::start(rule, r.first_at, None, interner);
        w.count = r.count;
        w.last_off = (r.last_at - r.first_at).num_seconds().clamp(0, i64::from(u32::MAX)) as u32;
        for item in &r.items {
            w.push_item(rule, Some(item.as_bytes()), interner);
        }
        w
    }
}

type Map<K> = std::collections::HashMap<K, Window, foldhash::fast::RandomState>;

/// How many maps one rule's counters are split into.
const SHARDS: usize = 16;

/// A key that picks its shard from its own bits (a multiplicative hash, independent of the maps'
/// seeded hashers).
trait ShardKey: std::hash::Hash + Eq + Copy {
    fn shard(self) -> usize;
}

impl ShardKey for u32 {
    fn shard(self) -> usize {
        (u64::from(self).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize
    }
}

impl ShardKey for u128 {
    fn shard(self) -> usize {
        (((self >> 64) as u64 ^ self as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize
    }
}

/// One rule's counters for one address family, split into [`SHARDS`] maps.
///
/// Why split: when counters expire and new addresses keep arriving, a hash table that is more
/// than half full fills up with deleted slots, and the standard table then doubles rather than
/// clearing them. One big table doubling puts the old and the new table side by side, three
/// times its size for a moment: the 24-hour harness (`tests/reliability/memory_24h.py`) peaked at
/// 172.5 MiB that way. Split, each shard grows or is tidied on its own after an eviction
/// ([`tidy`]), so that moment costs a sixteenth of the table; the same run now peaks at
/// 140.2 MiB.
#[derive(Debug)]
struct Shards<K> {
    maps: [Map<K>; SHARDS],
}

impl<K> Default for Shards<K> {
    fn default() -> Self {
        Self { maps: std::array::from_fn(|_| Map::default()) }
    }
}

impl<K: ShardKey> Shards<K> {
    fn get(&self, key: K) -> Option<&Window> {
        self.maps[key.shard()].get(&key)
    }

    fn map(&mut self, key: K) -> &mut Map<K> {
        &mut self.maps[key.shard()]
    }

    fn len(&self) -> usize {
        self.maps.iter().map(Map::len).sum()
    }

    fn iter(&self) -> impl Iterator<Item = (&K, &Window)> + '_ {
        self.maps.iter().flat_map(|m| m.iter())
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Window> + '_ {
        self.maps.iter_mut().flat_map(|m| m.values_mut())
    }

    fn retain(&mut self, mut keep: impl FnMut(&K, &mut Window) -> bool) {
        for map in &mut self.maps {
            let before = map.len();
            map.retain(|k, w| keep(k, w));
            if map.len() < before {
                tidy(map);
            }
        }
    }
}

/// Rebuilds a map at its live size when removals have left less than a quarter of its live
/// count free (`capacity()` is the live count plus the slots still free, deleted ones excluded),
/// so the next inserts find room instead of doubling the table.
fn tidy<K: ShardKey>(map: &mut Map<K>) {
    let len = map.len();
    if map.capacity() - len >= len / 4 + 16 {
        return;
    }
    let mut fresh = Map::with_capacity_and_hasher(len + len / 4 + 16, map.hasher().clone());
    fresh.extend(map.drain());
    *map = fresh;
}

/// Counters keyed by address and rule, stored so that a million addresses fit in little memory:
/// one map per rule (the rule is not part of the key), IPv4 keys as 4-byte integers, each split
/// into 16 shards (each resized and tidied on its own).
#[derive(Debug, Default)]
pub struct WindowMap {
    v4: [Shards<u32>; 3],
    v6: [Shards<u128>; 3],
}

fn slot(rule: Rule) -> usize {
    match rule {
        Rule::NotFound => 0,
        Rule::InvalidApiKey => 1,
        Rule::FailedLogin | Rule::Rate => 2,
    }
}

const RULES: [Rule; 3] = [Rule::NotFound, Rule::InvalidApiKey, Rule::FailedLogin];

impl WindowMap {
    /// The counter of `ip` under `rule`.
    pub fn get(&self, ip: std::net::IpAddr, rule: Rule) -> Option<&Window> {
        match ip {
            std::net::IpAddr::V4(v4) => self.v4[slot(rule)].get(u32::from(v4)),
            std::net::IpAddr::V6(v6) => self.v6[slot(rule)].get(u128::from(v6)),
        }
    }

    /// Counts an event: records it in the existing counter or starts one. Returns the counter.
    pub fn record(
        &mut self,
        ip: std::net::IpAddr,
        rule: Rule,
        at: Timestamp,
        item: Option<&[u8]>,
        interner: &mut Interner,
    ) -> &Window {
        fn go<'a, K: ShardKey>(
            map: &'a mut Shards<K>,
            key: K,
            rule: Rule,
            at: Timestamp,
            item: Option<&[u8]>,
            interner: &mut Interner,
        ) -> &'a Window {
            map.map(key)
                .entry(key)
                .and_modify(|w| {
                    w.record(rule, at, item, interner);
                })
                .or_insert_with(|| Window::start(rule, at, item, interner))
        }
        match ip {
            std::net::IpAddr::V4(v4) => go(&mut self.v4[slot(rule)], u32::from(v4), rule, at, item, interner),
            std::net::IpAddr::V6(v6) => go(&mut self.v6[slot(rule)], u128::from(v6), rule, at, item, interner),
        }
    }

    /// Puts a counter in place, returning the one it replaces.
    pub fn insert(&mut self, ip: std::net::IpAddr, rule: Rule, w: Window) -> Option<Window> {
        match ip {
            std::net::IpAddr::V4(v4) => self.v4[slot(rule)].map(u32::from(v4)).insert(u32::from(v4), w),
            std::net::IpAddr::V6(v6) => self.v6[slot(rule)].map(u128::from(v6)).insert(u128::from(v6), w),
        }
    }

    /// Removes a counter.
    pub fn remove(&mut self, ip: std::net::IpAddr, rule: Rule) -> Option<Window> {
        match ip {
            std::net::IpAddr::V4(v4) => self.v4[slot(rule)].map(u32::from(v4)).remove(&u32::from(v4)),
            std::net::IpAddr::V6(v6) => self.v6[slot(rule)].map(u128::from(v6)).remove(&u128::from(v6)),
        }
    }

    /// How many counters.
    pub fn len(&self) -> usize {
        self.v4.iter().map(Shards::len).sum::<usize>() + self.v6.iter().map(Shards::len).sum::<usize>()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every counter.
    pub fn iter(&self) -> impl Iterator<Item = (std::net::IpAddr, Rule, &Window)> + '_ {
        let v4 = RULES.iter().enumerate().flat_map(move |(i, rule)| {
            self.v4[i].iter().map(move |(k, w)| (std::net::IpAddr::V4((*k).into()), *rule, w))
        });
        let v6 = RULES.iter().enumerate().flat_map(move |(i, rule)| {
            self.v6[i].iter().map(move |(k, w)| (std::net::IpAddr::V6((*k).into()), *rule, w))
        });
        v4.chain(v6)
    }

    /// Drops the interned strings that no counter refers to, nor `also` (ids held elsewhere),
    /// and renumbers the rest everywhere here. Returns each old id's new one ([`GONE`] for a
    /// dropped string), for the caller to renumber what it holds. Walks every counter: call it
    /// only when the interner is full.
    pub fn compact(&mut self, interner: &mut Interner, also: impl IntoIterator<Item = u32>) -> Vec<u32> {
        let mut used = vec![false; interner.len()];
        let mut mark = |id: u32| {
            if let Some(u) = used.get_mut(id as usize) {
                *u = true;
            }
        };
        // Freed lists are empty, so every id in a list belongs to a live counter.
        interner.lists.iter().flatten().for_each(|&id| mark(id));
        for w in self.windows_mut() {
            if w.list == NO_LIST {
                w.inline[..usize::from(w.len).min(2)].iter().for_each(|&id| mark(id));
            }
        }
        also.into_iter().for_each(&mut mark);
        let map = interner.compact(&used);
        for w in self.windows_mut() {
            if w.list == NO_LIST {
                // Every inline id was marked, so none maps to GONE.
                let n = usize::from(w.len).min(2);
                w.inline[..n].iter_mut().for_each(|id| *id = map.get(*id as usize).copied().unwrap_or(GONE));
            }
        }
        map
    }

    fn windows_mut(&mut self) -> impl Iterator<Item = &mut Window> + '_ {
        self.v4.iter_mut().flat_map(Shards::values_mut).chain(self.v6.iter_mut().flat_map(Shards::values_mut))
    }

    /// Keeps the counters for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(std::net::IpAddr, Rule, &Window) -> bool) {
        for (i, rule) in RULES.iter().enumerate() {
            self.v4[i].retain(|k, w| keep(std::net::IpAddr::V4((*k).into()), *rule, w));
            self.v6[i].retain(|k, w| keep(std::net::IpAddr::V6((*k).into()), *rule, w));
        }
    }
}
