//! The access-log parser's cache of client addresses.
//!
//! Logs repeat the same few thousand clients, so most lines find their address here instead of
//! parsing it: the hot loop of a replay spends a few word compares where reading a dotted quad
//! took about 110 instructions (callgrind), and an IPv6 address more.

use std::fmt;

use crate::ip::IpKey;

/// A cache from the address a line starts with, when it is at most 39 bytes (every IPv4
/// address, and IPv6 written in full), to its canonical form. Logs repeat the same few thousand
/// clients, so most lines find their address here: a few word compares instead of parsing it.
/// The address is kept as an [`IpKey`], the form the access-log loop hands the engine.
///
/// Two-way set-associative, with the newest entry first in its set. The key is the address
/// bytes themselves, so a hit is exact whatever the hash; a hostile log that makes addresses
/// collide only makes them miss and be parsed.
#[derive(Clone)]
pub(super) struct AddrCache {
    slots: Vec<AddrSlot>,
    /// log2 of the number of sets, 1 to 63: [`AddrCache::SET_BITS`] outside tests, which use tiny caches.
    set_bits: u32,
}

/// Words of address a cache key holds (40 bytes: the longest IPv6 text and its space).
const KEY_WORDS: usize = 5;

/// One cached address: 64 bytes, aligned to one cache line (an `Option<IpKey>` would pad it
/// to 72), so that a lookup touches one line.
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct AddrSlot {
    key: [u64; KEY_WORDS],
    /// The canonical address, if `is_addr`.
    addr: IpKey,
    len: u8,
    is_addr: bool,
}

impl AddrSlot {
    fn addr(&self) -> Option<IpKey> {
        self.is_addr.then_some(self.addr)
    }
}

impl fmt::Debug for AddrCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AddrCache({} slots)", self.slots.len())
    }
}

/// The bytes of `w` that equal `b`, as the high bit of each byte (exact: no carries between bytes).
#[inline]
fn bytes_equal(w: u64, b: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let x = w ^ (u64::from(b) * 0x0101_0101_0101_0101);
    !(((x & LOW7) + LOW7) | x) & !LOW7
}

impl Default for AddrCache {
    fn default() -> Self {
        Self { slots: Vec::new(), set_bits: Self::SET_BITS }
    }
}

impl AddrCache {
    /// 4 096 sets of two: 8 192 addresses, 512 KiB.
    const SET_BITS: u32 = 12;

    /// The length of the address at the start of `line` (ended by a space within its first 40
    /// bytes) and its canonical form (`None` if it is not an address). `None` when the line has
    /// no such space there, and perhaps when the line is shorter than 48 bytes (the caller then
    /// finds the space itself).
    #[inline]
    pub(super) fn leading(&mut self, line: &[u8]) -> Option<(usize, Option<IpKey>)> {
        // Every IPv4 address and short IPv6 ends within the first 16 bytes: one vector compare
        // finds the space, and the key is two words (the others are zero, as the general path
        // leaves them for a key this short, so hashing and comparing them can be skipped).
        if let Some(block) = line.first_chunk::<16>() {
            let spaces = super::scan::matches16(block, b' ');
            if spaces != 0 {
                let len = spaces.trailing_zeros() as usize;
                let key = u128::from_le_bytes(*block) & ((1u128 << (len * 8)) - 1);
                let (k0, k1) = (key as u64, (key >> 64) as u64);
                return (len > 0).then(|| (len, self.lookup(line, [k0, k1, 0, 0, 0], len, k0 ^ k1.rotate_left(13), 2)));
            }
            // IPv6 (a third of a busy server's lines): two more vector compares.
            if let Some(wide) = line.first_chunk::<48>() {
                return self.leading_wide(wide);
            }
        }
        self.leading_long(line)
    }

    /// [`AddrCache::leading`] for an address of 16 to 39 bytes, in a line of 48 bytes or more.
    #[inline]
    fn leading_wide(&mut self, wide: &[u8; 48]) -> Option<(usize, Option<IpKey>)> {
        let block = |i: usize| <&[u8; 16]>::try_from(&wide[i..i + 16]).ok();
        let spaces = |i: usize| block(i).map_or(0, |b| super::scan::matches16(b, b' '));
        let m = spaces(16) | (spaces(32) << 16);
        let len = 16 + m.trailing_zeros() as usize;
        if m == 0 || len >= KEY_WORDS * 8 {
            return None;
        }
        // The key is the address bytes, the rest zeroed, as the general path makes it.
        let mut key = [0u64; KEY_WORDS];
        for (i, k) in key.iter_mut().enumerate() {
            let w = wide[i * 8..].first_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b));
            let n = len.saturating_sub(i * 8).min(8);
            *k = if n == 8 { w } else { w & ((1u64 << (n * 8)) - 1) };
        }
        let mixed =
            key[0] ^ key[1].rotate_left(13) ^ key[2].rotate_left(26) ^ key[3].rotate_left(39) ^ key[4].rotate_left(52);
        Some((len, self.lookup(wide, key, len, mixed, KEY_WORDS)))
    }

    /// [`AddrCache::leading`] for an address of 16 bytes or more, or a line shorter than that.
    #[inline(never)]
    fn leading_long(&mut self, line: &[u8]) -> Option<(usize, Option<IpKey>)> {
        let mut key = [0u64; KEY_WORDS];
        let mut len = None;
        for (i, k) in key.iter_mut().enumerate() {
            let w = u64::from_le_bytes(*line.get(i * 8..)?.first_chunk::<8>()?);
            let spaces = bytes_equal(w, b' ');
            if spaces != 0 {
                // The key is the address bytes, the rest zeroed.
                let n = (spaces.trailing_zeros() / 8) as usize;
                *k = w & ((1u64 << (n * 8)) - 1);
                len = Some(i * 8 + n);
                break;
            }
            *k = w;
        }
        let len = len.filter(|l| *l > 0)?;
        let mixed =
            key[0] ^ key[1].rotate_left(13) ^ key[2].rotate_left(26) ^ key[3].rotate_left(39) ^ key[4].rotate_left(52);
        Some((len, self.lookup(line, key, len, mixed, KEY_WORDS)))
    }

    /// The address of `len` bytes at the start of `line`, whose key is `key` (the address bytes,
    /// zero after them) and whose words after the first `words` are zero; `mixed` is the key's
    /// words folded into one.
    #[inline(always)]
    fn lookup(&mut self, line: &[u8], key: [u64; KEY_WORDS], len: usize, mixed: u64, words: usize) -> Option<IpKey> {
        if self.slots.is_empty() {
            self.slots = vec![AddrSlot::default(); 2 << self.set_bits];
        }
        let set = (mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.set_bits)) as usize * 2;
        // Word by word: an array `==` of this size becomes a library call. Words past `words`
        // are zero in both keys when the lengths are equal, so they need no compare.
        let hit = |s: &AddrSlot| {
            s.key.iter().zip(&key).take(words).fold(0, |d, (a, b)| d | (a ^ b)) == 0 && usize::from(s.len) == len
        };
        if hit(&self.slots[set]) {
            return self.slots[set].addr();
        }
        if hit(&self.slots[set + 1]) {
            self.slots.swap(set, set + 1);
            return self.slots[set].addr();
        }
        let addr = crate::ip::canonicalize_bytes(&line[..len]).map(IpKey::of);
        self.slots[set + 1] = self.slots[set];
        self.slots[set] = AddrSlot { key, addr: addr.unwrap_or_default(), len: len as u8, is_addr: addr.is_some() };
        addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<AddrSlot>(), 64);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, .. Default::default() })]
        /// The address cache gives exactly what parsing gives, for every lookup: addresses drawn
        /// from a small pool (so that they repeat, share prefixes, collide in a tiny cache and
        /// evict each other), followed by different rest-of-lines.
        #[test]
        fn address_cache_answers_what_parsing_answers(
            picks in proptest::collection::vec((0usize..26, "[ -~]{0,12}", 0usize..90), 1..300),
            set_bits in 1u32..4,
        ) {
            let pool = [
                "1.2.3.4", "1.2.3.45", "1.2.3.5", "11.2.3.4", "203.0.113.7", "255.255.255.255", "0.0.0.0",
                "01.2.3.4", "256.1.1.1", "2001:db8::1", "2001:db8::10", "2001:DB8::1",
                "2409:40c0:8298:3c5f:fda9:e623:f1ca:c25c", "2409:40c0:8298:3c5f:fda9:e623:f1ca:c25d",
                "::ffff:203.0.113.7", "::1", "fe80::1%eth0", "-", "localhost", "1.2.3.4.5",
                "2409:40c0:8298:3c5f:fda9:e623:f1ca:c25", "a", "::", "2001:0db8:0000:0000:0000:0000:0000:0001",
                // 40 and 41 bytes: too long for a key, so no answer (the caller looks further).
                "2001:0db8:0000:0000:0000:0000:0000:0001%e", "2001:0db8:0000:0000:0000:0000:0000:0001%e0",
            ];
            let mut cache = AddrCache { slots: Vec::new(), set_bits };
            for (pick, rest, cut) in picks {
                let addr = pool[pick];
                let line = format!("{addr} {rest} - - [13/Jan/2025:10:21:55 +0530] \"GET / HTTP/1.1\" 200 1");
                // Lines cut short too (down to the address and its space): each length of line
                // takes its own path (16, 48 bytes, or the byte loop).
                let line = &line.as_bytes()[..cut.clamp(addr.len() + 1, line.len())];
                let got = cache.leading(line);
                let shown = String::from_utf8_lossy(line);
                match got {
                    Some(got) => {
                        let want = (addr.len(), crate::ip::canonicalize_bytes(addr.as_bytes()).map(IpKey::of));
                        proptest::prop_assert_eq!(got, want, "{:?}", shown);
                    }
                    // No answer is allowed only for a key that is too long, or a line too short
                    // to read in words (the parser then finds the space itself).
                    None => proptest::prop_assert!(addr.len() >= KEY_WORDS * 8 || line.len() < 48, "{:?}", shown),
                }
            }
        }
    }
}
