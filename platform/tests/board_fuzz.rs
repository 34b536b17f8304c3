//! Robustness: truncated and corrupted device trees give errors, never panics.

use platform::board::{BoardError, BoardInfo};

const DTBS: [&[u8]; 3] = [
    include_bytes!("data/virt-gicv2.dtb"),
    include_bytes!("data/virt-gicv3.dtb"),
    include_bytes!("data/virt-gicv3-el2.dtb"),
];

/// Deterministic xorshift64* generator (no extra dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Mutations per blob; raise with `PLATFORM_FUZZ_ITERS=1000000` for a longer run.
fn iterations() -> usize {
    std::env::var("PLATFORM_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

fn set_totalsize(blob: &mut [u8], size: usize) {
    blob[4..8].copy_from_slice(&(size as u32).to_be_bytes());
}

#[test]
fn every_truncation_is_an_error() {
    for dtb in DTBS {
        for len in 0..dtb.len() {
            let err = BoardInfo::parse(&dtb[..len]).unwrap_err();
            let expected = if len < 40 {
                BoardError::Truncated {
                    needed: 40,
                    got: len,
                }
            } else {
                BoardError::Truncated {
                    needed: dtb.len(),
                    got: len,
                }
            };
            assert_eq!(err, expected);
        }
    }
}

#[test]
fn every_truncation_with_a_matching_header_is_an_error() {
    // The header claims the shorter length, so the structure itself is cut short.
    for dtb in DTBS {
        for len in 40..dtb.len() {
            let mut cut = dtb[..len].to_vec();
            set_totalsize(&mut cut, len);
            assert!(BoardInfo::parse(&cut).is_err(), "length {len} parsed");
        }
    }
}

#[test]
fn random_byte_flips_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut outcomes = [0usize; 2];
    for dtb in DTBS {
        for _ in 0..iterations() {
            let mut blob = dtb.to_vec();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(blob.len());
                blob[at] ^= 1 << rng.below(8);
            }
            outcomes[BoardInfo::parse(&blob).is_ok() as usize] += 1;
        }
    }
    // Many flips hit values the parser does not look at; many hit structure.
    assert!(outcomes[0] > 100 && outcomes[1] > 100, "{outcomes:?}");
}

#[test]
fn random_word_overwrites_in_the_structure_block_never_panic() {
    const INTERESTING: [u32; 12] = [
        0,
        1,
        2,
        3,
        4,
        5,
        9,
        0x7f,
        0x8000_0000,
        0xffff_fffc,
        0xffff_ffff,
        0x1_0000,
    ];
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for dtb in DTBS {
        let off = u32::from_be_bytes(dtb[8..12].try_into().unwrap()) as usize;
        let size = u32::from_be_bytes(dtb[36..40].try_into().unwrap()) as usize;
        for _ in 0..iterations() {
            let mut blob = dtb.to_vec();
            for _ in 0..1 + rng.below(2) {
                let word = off + 4 * rng.below(size / 4);
                let value = INTERESTING[rng.below(INTERESTING.len())];
                blob[word..word + 4].copy_from_slice(&value.to_be_bytes());
            }
            let _ = BoardInfo::parse(&blob);
        }
    }
}

#[test]
fn corrupted_header_fields_never_panic() {
    let mut rng = Rng(42);
    for dtb in DTBS {
        for field in 1..10 {
            for _ in 0..200 {
                let mut blob = dtb.to_vec();
                let value = match rng.below(3) {
                    0 => rng.next() as u32,
                    1 => rng.below(dtb.len() + 64) as u32,
                    _ => u32::MAX - rng.below(16) as u32,
                };
                blob[4 * field..4 * field + 4].copy_from_slice(&value.to_be_bytes());
                let _ = BoardInfo::parse(&blob);
            }
        }
    }
}
