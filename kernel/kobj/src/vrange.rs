//! A first-fit allocator of address ranges (virtual address windows for buffer
//! mappings), with coalescing on free.

use alloc::collections::BTreeMap;

/// Hands out `[start, start + len)` ranges from a fixed window, aligned to `align`.
pub struct RangeAllocator {
    /// Free ranges: start -> length.
    free: BTreeMap<u64, u64>,
    align: u64,
}

impl RangeAllocator {
    /// An allocator over `[base, end)`; `align` must be a power of two and divide `base`.
    pub fn new(base: u64, end: u64, align: u64) -> Self {
        assert!(align.is_power_of_two() && base.is_multiple_of(align) && end > base);
        let mut free = BTreeMap::new();
        free.insert(base, end - base);
        Self { free, align }
    }

    /// Take `len` bytes (rounded up to the alignment); `None` if no free range fits.
    pub fn alloc(&mut self, len: u64) -> Option<u64> {
        if len == 0 {
            return None;
        }
        let len = len.checked_next_multiple_of(self.align)?;
        let (&start, &have) = self.free.iter().find(|(_, &l)| l >= len)?;
        self.free.remove(&start);
        if have > len {
            self.free.insert(start + len, have - len);
        }
        Some(start)
    }

    /// Return a range obtained from [`alloc`](Self::alloc) with the same `len`.
    pub fn free(&mut self, start: u64, len: u64) {
        let Some(mut len) = len.checked_next_multiple_of(self.align) else {
            return;
        };
        let mut start = start;
        // Merge with the following free range.
        if let Some(next_len) = self.free.remove(&(start + len)) {
            len += next_len;
        }
        // Merge with the preceding free range.
        if let Some((&prev, &prev_len)) = self.free.range(..start).next_back() {
            if prev + prev_len == start {
                self.free.remove(&prev);
                start = prev;
                len += prev_len;
            }
        }
        self.free.insert(start, len);
    }

    /// Bytes free in total.
    pub fn free_bytes(&self) -> u64 {
        self.free.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alloc_free_coalesces_back_to_one_range() {
        let mut a = RangeAllocator::new(0x1000, 0x11000, 0x1000);
        let x = a.alloc(0x1000).unwrap();
        let y = a.alloc(0x2001).unwrap();
        let z = a.alloc(0x1000).unwrap();
        assert_eq!((x, y, z), (0x1000, 0x2000, 0x5000));
        a.free(y, 0x2001);
        assert_eq!(a.alloc(0x3000), Some(0x2000), "freed hole reused first-fit");
        a.free(0x2000, 0x3000);
        a.free(x, 0x1000);
        a.free(z, 0x1000);
        assert_eq!(a.free_bytes(), 0x10000);
        assert_eq!(a.free.len(), 1, "fully coalesced");
    }

    #[test]
    fn exhaustion_and_zero() {
        let mut a = RangeAllocator::new(0, 0x4000, 0x1000);
        assert_eq!(a.alloc(0), None);
        assert_eq!(a.alloc(0x5000), None);
        assert_eq!(a.alloc(0x4000), Some(0));
        assert_eq!(a.alloc(1), None);
        assert_eq!(a.alloc(u64::MAX), None);
    }
}
