//! Interned strings: the paths and key hashes that counters remember, stored once per engine.
//!
//! A million scanners sending the same few hundred paths would otherwise hold a million copies
//! of them. A counter refers to a string by number; [`Interner::compact`] frees the strings no
//! counter refers to any more, once the interner is full.

/// Most distinct strings interned, and most bytes in all; past either, new paths are counted
/// but not remembered, until [`super::WindowMap::compact`] drops the strings no counter refers to any
/// more. An attacker can send any number of distinct paths.
const MAX_INTERNED: usize = 200_000;
const MAX_INTERNED_BYTES: usize = 32 << 20;

/// Longest item remembered; a longer path is cut (on a character boundary) and marked `…`.
pub const MAX_ITEM_BYTES: usize = 256;

/// Interned strings (paths, key hashes), and the overflow lists of windows with more than two.
#[derive(Debug, Default)]
pub struct Interner {
    ids: std::collections::HashMap<Box<[u8]>, u32, foldhash::fast::RandomState>,
    strings: Vec<Box<[u8]>>,
    bytes: usize,
    /// The overflow lists, indexed by a window's list number.
    pub(super) lists: Vec<Vec<u32>>,
    free: Vec<u32>,
}

impl Interner {
    pub(super) fn id(&mut self, s: &[u8]) -> Option<u32> {
        let cut;
        let s = if s.len() > MAX_ITEM_BYTES {
            // Back off to the start of a UTF-8 character, then mark the cut.
            let mut end = MAX_ITEM_BYTES;
            while end > 0 && (s[end] & 0b1100_0000) == 0b1000_0000 {
                end -= 1;
            }
            cut = [&s[..end], "…".as_bytes()].concat();
            cut.as_slice()
        } else {
            s
        };
        if let Some(id) = self.ids.get(s) {
            return Some(*id);
        }
        if self.strings.len() >= MAX_INTERNED || self.bytes >= MAX_INTERNED_BYTES {
            return None;
        }
        let id = u32::try_from(self.strings.len()).ok()?;
        self.bytes += 2 * s.len();
        self.strings.push(s.into());
        self.ids.insert(s.into(), id);
        Some(id)
    }

    /// The id of an interned string.
    pub fn lookup(&self, s: &[u8]) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub(super) fn string(&self, id: u32) -> String {
        self.strings.get(id as usize).map_or_else(String::new, |s| String::from_utf8_lossy(s).into_owned())
    }

    pub(super) fn new_list(&mut self, items: Vec<u32>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.lists[i as usize] = items;
                i
            }
            None => {
                self.lists.push(items);
                (self.lists.len() - 1) as u32
            }
        }
    }

    pub(super) fn release(&mut self, list: u32) {
        if let Some(l) = self.lists.get_mut(list as usize) {
            *l = Vec::new();
            self.free.push(list);
        }
    }

    /// Whether a new string would not be remembered.
    pub fn is_full(&self) -> bool {
        self.strings.len() >= MAX_INTERNED || self.bytes >= MAX_INTERNED_BYTES
    }

    /// How many strings are interned.
    pub fn len(&self) -> usize {
        self.strings.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }

    /// Keeps the strings `used` marks, numbered again from 0 in their old order, and renumbers
    /// the overflow lists. Returns each old id's new one ([`GONE`] for a dropped string).
    pub(super) fn compact(&mut self, used: &[bool]) -> Vec<u32> {
        let mut map = vec![GONE; self.strings.len()];
        let old = std::mem::take(&mut self.strings);
        self.ids.clear();
        self.bytes = 0;
        for (id, s) in old.into_iter().enumerate() {
            if used.get(id).copied().unwrap_or(false) {
                let new = self.strings.len() as u32;
                map[id] = new;
                self.bytes += 2 * s.len();
                self.ids.insert(s.clone(), new);
                self.strings.push(s);
            }
        }
        self.ids.shrink_to_fit();
        self.strings.shrink_to_fit();
        for list in &mut self.lists {
            list.retain_mut(|id| match map.get(*id as usize) {
                Some(&new) if new != GONE => {
                    *id = new;
                    true
                }
                _ => false,
            });
        }
        map
    }
}

/// The new id of a string that [`super::WindowMap::compact`] dropped.
pub const GONE: u32 = u32::MAX;
