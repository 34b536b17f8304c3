//! Reading the guest's physical memory. QEMU 10.0's plugin API reads memory only by
//! virtual address, so the guest's RAM is backed by a shared file
//! (`-object memory-backend-file,id=ram,size=...,mem-path=FILE,share=on -machine
//! memory-backend=ram`) that the sanitizer maps read-only: page tables, virtqueues,
//! device commands and frame contents are read there.

use std::fs::File;
use std::path::Path;

/// Read access to physical memory.
pub trait PhysMem: Send + Sync {
    /// Read `out.len()` bytes at `pa`; false if any of it is outside the memory.
    fn read(&self, pa: u64, out: &mut [u8]) -> bool;

    /// A little-endian `u64` at `pa`.
    fn read_u64(&self, pa: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read(pa, &mut b).then(|| u64::from_le_bytes(b))
    }

    /// A little-endian `u32` at `pa`.
    fn read_u32(&self, pa: u64) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read(pa, &mut b).then(|| u32::from_le_bytes(b))
    }

    /// A little-endian `u16` at `pa`.
    fn read_u16(&self, pa: u64) -> Option<u16> {
        let mut b = [0u8; 2];
        self.read(pa, &mut b).then(|| u16::from_le_bytes(b))
    }
}

/// The guest RAM file, mapped read-only, at physical address `base`.
pub struct RamFile {
    map: memmap2::Mmap,
    base: u64,
}

impl RamFile {
    /// Map `path` (the memory backend's file) as the RAM starting at `base`.
    pub fn open(path: &Path, base: u64) -> Result<RamFile, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // SAFETY: the mapping is read-only and private to this object. QEMU writes the
        // file through its own shared mapping while the guest runs, so the bytes can
        // change under us at any time: they are only ever read with volatile copies
        // (`read`), never through references, so no Rust value assumes they are stable.
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }
            .map_err(|e| format!("mapping {}: {e}", path.display()))?;
        Ok(RamFile { map, base })
    }

    /// Bytes of RAM.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// True if the file is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// First physical address.
    pub fn base(&self) -> u64 {
        self.base
    }
}

impl PhysMem for RamFile {
    fn read(&self, pa: u64, out: &mut [u8]) -> bool {
        let Some(off) = pa.checked_sub(self.base) else {
            return false;
        };
        let Some(end) = off.checked_add(out.len() as u64) else {
            return false;
        };
        if end > self.len() {
            return false;
        }
        let src = self.map.as_ptr().wrapping_add(off as usize);
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: `off + i < end <= len`, inside the live mapping; a volatile read of
            // a byte another process may be writing (see `open`).
            *b = unsafe { core::ptr::read_volatile(src.add(i)) };
        }
        true
    }
}

impl cachemodel::Ram for RamFile {
    fn read(&self, pa: u64, out: &mut [u8]) -> bool {
        PhysMem::read(self, pa, out)
    }
}

/// A shared handle to physical memory usable as the model's [`cachemodel::Ram`].
pub struct SharedMem(pub std::sync::Arc<dyn PhysMem>);

impl cachemodel::Ram for SharedMem {
    fn read(&self, pa: u64, out: &mut [u8]) -> bool {
        self.0.read(pa, out)
    }
}

/// Plain bytes at a base address (tests, and a stand-in when no RAM file is given).
pub struct VecMem {
    /// First physical address.
    pub base: u64,
    /// The bytes.
    pub bytes: std::sync::RwLock<Vec<u8>>,
}

impl VecMem {
    /// `len` zero bytes at `base`.
    pub fn new(base: u64, len: usize) -> VecMem {
        VecMem {
            base,
            bytes: std::sync::RwLock::new(vec![0; len]),
        }
    }

    /// Write `data` at `pa` (panics outside).
    pub fn write(&self, pa: u64, data: &[u8]) {
        let off = (pa - self.base) as usize;
        self.bytes.write().expect("lock")[off..off + data.len()].copy_from_slice(data);
    }

    /// Write a little-endian `u64`.
    pub fn write_u64(&self, pa: u64, v: u64) {
        self.write(pa, &v.to_le_bytes());
    }
}

impl PhysMem for VecMem {
    fn read(&self, pa: u64, out: &mut [u8]) -> bool {
        let Some(off) = pa.checked_sub(self.base) else {
            return false;
        };
        let off = off as usize;
        let bytes = self.bytes.read().expect("lock");
        match bytes.get(off..off + out.len()) {
            Some(b) => {
                out.copy_from_slice(b);
                true
            }
            None => false,
        }
    }
}
