//! Finding one byte in a short run of bytes: a newline in a log line, the space after a request
//! target.
//!
//! `memchr` is the right tool for long haystacks, but an access-log line is about 160 bytes and a
//! request target a few dozen, and for those its per-call set-up (dispatch, alignment, a
//! four-vector main loop that rarely runs) costs more than the search. [`find_byte`] is an
//! inlined loop over 32 bytes at a time (16 for a shorter run), with SSE2 (part of every x86-64) through `safe_arch`'s
//! safe wrappers: the crate itself still has no `unsafe`. Other targets use `memchr`.

/// The position of the first `needle` in `hay`.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    use safe_arch::{cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};
    let n = set_splat_i8_m128i(needle as i8);
    // One bit per byte of a 32-byte block, set where the byte is `needle`.
    let mask = |block: &[u8; 32]| {
        let (lo, hi) = block.split_at(16);
        let lo = m128i::from(<[u8; 16]>::try_from(lo).unwrap_or_default());
        let hi = m128i::from(<[u8; 16]>::try_from(hi).unwrap_or_default());
        let lo = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(lo, n)) as u32;
        let hi = move_mask_i8_m128i(cmp_eq_mask_i8_m128i(hi, n)) as u32;
        lo | (hi << 16)
    };
    let mut blocks = hay.chunks_exact(32);
    let mut at = 0;
    for block in &mut blocks {
        let m = mask(block.try_into().unwrap_or(&[0; 32]));
        if m != 0 {
            return Some(at + m.trailing_zeros() as usize);
        }
        at += 32;
    }
    if blocks.remainder().is_empty() {
        return None;
    }
    if let Some(last) = hay.last_chunk::<32>() {
        // The last 32 bytes, overlapping bytes already searched: they hold no `needle`, so the
        // first set bit is in the remainder.
        let m = mask(last);
        return (m != 0).then(|| hay.len() - 32 + m.trailing_zeros() as usize);
    }
    // Shorter than 32 bytes (a request target, say): the first 16 and the last 16, which overlap.
    if let (Some(first), Some(last)) = (hay.first_chunk::<16>(), hay.last_chunk::<16>()) {
        return match matches16(first, needle) {
            0 => match matches16(last, needle) {
                0 => None,
                m => Some(hay.len() - 16 + m.trailing_zeros() as usize),
            },
            m => Some(m.trailing_zeros() as usize),
        };
    }
    hay.iter().position(|c| *c == needle)
}

/// One bit per byte of `block`, set where the byte is `needle` (bit 0 for the first byte).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub fn matches16(block: &[u8; 16], needle: u8) -> u32 {
    use safe_arch::{cmp_eq_mask_i8_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i};
    move_mask_i8_m128i(cmp_eq_mask_i8_m128i(m128i::from(*block), set_splat_i8_m128i(needle as i8))) as u32
}

/// One bit per byte of `block`, set where the byte is `needle` (bit 0 for the first byte).
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
pub fn matches16(block: &[u8; 16], needle: u8) -> u32 {
    block.iter().enumerate().fold(0, |m, (i, b)| m | (u32::from(*b == needle) << i))
}

/// The position of the first `needle` in `hay`.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
pub fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    memchr::memchr(needle, hay)
}

#[cfg(test)]
mod tests {
    use super::{find_byte, matches16};
    use proptest::prelude::*;

    proptest! {
        /// Every length around the 32-byte blocks, needles anywhere or nowhere, repeated or not.
        #[test]
        fn finds_what_a_byte_loop_finds(
            hay in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b' '), any::<u8>()], 0..140),
            needle in prop_oneof![Just(b'\n'), Just(b' '), any::<u8>()],
        ) {
            prop_assert_eq!(find_byte(needle, &hay), hay.iter().position(|c| *c == needle));
        }
    }

    #[test]
    fn marks_every_match_in_a_block() {
        let block = *b"GET /a b\n c  d e";
        assert_eq!(matches16(&block, b' '), 0b0101_1010_0100_1000);
        assert_eq!(matches16(&block, b'\n'), 1 << 8);
        assert_eq!(matches16(&block, b'x'), 0);
        assert_eq!(matches16(&[0xff; 16], 0xff), 0xffff);
    }

    #[test]
    fn finds_the_first_at_every_place() {
        for len in 0..300 {
            for at in 0..len {
                let mut hay = vec![b'a'; len];
                hay[at] = b'\n';
                if at + 1 < len {
                    hay[len - 1] = b'\n';
                }
                assert_eq!(find_byte(b'\n', &hay), Some(at), "len {len}, at {at}");
            }
            assert_eq!(find_byte(b'\n', &vec![b'a'; len]), None);
        }
    }
}
