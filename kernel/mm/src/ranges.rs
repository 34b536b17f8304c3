//! Physical range arithmetic for boot-time memory discovery: RAM regions minus reserved
//! ones (kernel image, DTB, initrd, firmware reservations), page-aligned inward.

use crate::addr::PAGE_SIZE;

/// A half-open physical range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl PhysRange {
    /// A range from base and size; `None` if it wraps.
    pub fn from_base_size(base: u64, size: u64) -> Option<Self> {
        Some(Self {
            start: base,
            end: base.checked_add(size)?,
        })
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Subtract every range of `reserved` from every range of `memory` and call `out` with
/// each remaining piece, shrunk inward to whole pages (pieces smaller than a page are
/// dropped). Reserved ranges are grown outward to whole pages first. Neither input needs
/// to be sorted; reserved ranges may overlap each other. Pieces come out in the order of
/// `memory`, ascending within each region.
pub fn subtract(memory: &[PhysRange], reserved: &[PhysRange], mut out: impl FnMut(PhysRange)) {
    for mem in memory {
        let mut cursor = align_up(mem.start);
        let end = mem.end & !(PAGE_SIZE - 1);
        while cursor < end {
            // The reserved range that starts lowest among those that overlap [cursor, end).
            let next = reserved
                .iter()
                .filter(|r| !r.is_empty())
                .map(|r| (r.start & !(PAGE_SIZE - 1), align_up(r.end)))
                .filter(|&(s, e)| e > cursor && s < end)
                .min_by_key(|&(s, _)| s);
            match next {
                None => {
                    out(PhysRange { start: cursor, end });
                    break;
                }
                Some((s, e)) => {
                    if s > cursor {
                        out(PhysRange {
                            start: cursor,
                            end: s,
                        });
                    }
                    cursor = e.max(cursor);
                }
            }
        }
    }
}

fn align_up(x: u64) -> u64 {
    // Saturates at the last page boundary rather than wrapping to 0.
    x.checked_add(PAGE_SIZE - 1)
        .map_or(!(PAGE_SIZE - 1), |v| v & !(PAGE_SIZE - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> PhysRange {
        PhysRange { start, end }
    }

    fn run(mem: &[PhysRange], res: &[PhysRange]) -> Vec<PhysRange> {
        let mut v = Vec::new();
        subtract(mem, res, |p| v.push(p));
        v
    }

    #[test]
    fn nothing_reserved() {
        assert_eq!(run(&[r(0x1000, 0x9000)], &[]), vec![r(0x1000, 0x9000)]);
    }

    #[test]
    fn hole_in_the_middle_is_page_aligned_outward() {
        let got = run(&[r(0x0, 0x10000)], &[r(0x3010, 0x4001)]);
        assert_eq!(got, vec![r(0x0, 0x3000), r(0x5000, 0x10000)]);
    }

    #[test]
    fn overlapping_and_unsorted_reservations() {
        let got = run(
            &[r(0x0, 0x20000)],
            &[r(0x8000, 0xa000), r(0x2000, 0x9000), r(0x1f000, 0x30000)],
        );
        assert_eq!(got, vec![r(0x0, 0x2000), r(0xa000, 0x1f000)]);
    }

    #[test]
    fn region_edges_shrink_inward() {
        let got = run(&[r(0x0800, 0x5800)], &[]);
        assert_eq!(got, vec![r(0x1000, 0x5000)]);
    }

    #[test]
    fn fully_reserved_region_yields_nothing() {
        assert!(run(&[r(0x1000, 0x3000)], &[r(0x0, 0x4000)]).is_empty());
    }

    #[test]
    fn several_regions() {
        let got = run(
            &[r(0x0, 0x4000), r(0x10000, 0x14000)],
            &[r(0x3000, 0x11000)],
        );
        assert_eq!(got, vec![r(0x0, 0x3000), r(0x11000, 0x14000)]);
    }

    #[test]
    fn wrapping_base_size_rejected() {
        assert_eq!(PhysRange::from_base_size(u64::MAX, 2), None);
        assert_eq!(
            PhysRange::from_base_size(0x1000, 0x1000),
            Some(r(0x1000, 0x2000))
        );
    }
}
