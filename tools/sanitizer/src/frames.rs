//! The frame-image mode: for every GPU transfer, the bytes the device would have read
//! from the *modelled* RAM (where a line the CPU never cleaned still holds what was
//! last written back) are copied into a model of the host resource; at every flush the
//! resource is what the display would show. A missing clean thus becomes a picture;
//! with no bug it equals QEMU's own screen.

use crate::phys::PhysMem;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A resource's image as the modelled device holds it.
struct Image {
    width: u32,
    height: u32,
    format: u32,
    bytes: Vec<u8>,
}

/// Resource images and counts.
pub struct Frames {
    dir: PathBuf,
    all: bool,
    images: HashMap<u32, Image>,
    last_flushed: Option<u32>,
    /// Transfers seen.
    pub transfers: u64,
    /// Transfers whose modelled bytes differ from what QEMU's device read.
    pub transfers_differing: u64,
    /// Bytes (over all transfers) that differ.
    pub bytes_differing: u64,
    /// Lines transferred whose modelled contents were unknown (dirty, never cleaned
    /// while the sanitizer watched).
    pub unknown_lines: u64,
    /// Flushes seen.
    pub flushes: u64,
    /// Images written.
    pub written: Vec<PathBuf>,
}

/// RGB of one pixel of virtio-gpu `format` (byte order in memory as the format names).
pub fn rgb(format: u32, p: &[u8]) -> [u8; 3] {
    match format {
        1 | 2 => [p[2], p[1], p[0]],    // B8G8R8A8, B8G8R8X8
        3 | 4 => [p[1], p[2], p[3]],    // A8R8G8B8, X8R8G8B8
        68 | 121 => [p[3], p[2], p[1]], // X8B8G8R8, A8B8G8R8
        _ => [p[0], p[1], p[2]],        // R8G8B8A8, R8G8B8X8
    }
}

/// A binary PPM (P6) of an image in virtio-gpu `format`.
pub fn ppm(width: u32, height: u32, format: u32, bytes: &[u8]) -> Vec<u8> {
    let mut out = format!("P6\n{width} {height}\n255\n").into_bytes();
    for p in bytes.chunks_exact(4) {
        out.extend_from_slice(&rgb(format, p));
    }
    out
}

impl Frames {
    /// Images go to `dir` (created); `all`: one per flush, else only the last.
    pub fn new(dir: &Path, all: bool) -> Result<Frames, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Frames {
            dir: dir.to_path_buf(),
            all,
            images: HashMap::new(),
            last_flushed: None,
            transfers: 0,
            transfers_differing: 0,
            bytes_differing: 0,
            unknown_lines: 0,
            flushes: 0,
            written: Vec::new(),
        })
    }

    /// A transfer into `resource`: `modelled(pa, out)` fills `out` with the modelled
    /// RAM and returns the unknown lines; `real` is QEMU's RAM.
    #[allow(clippy::too_many_arguments)]
    pub fn transfer(
        &mut self,
        resource: u32,
        width: u32,
        height: u32,
        format: u32,
        pieces: &[(u64, u64, u64)],
        modelled: &mut dyn FnMut(u64, &mut [u8]) -> Option<u64>,
        real: &dyn PhysMem,
    ) {
        self.transfers += 1;
        let size = width as usize * height as usize * 4;
        let img = self.images.entry(resource).or_insert_with(|| Image {
            width,
            height,
            format,
            bytes: vec![0; size],
        });
        if img.bytes.len() != size {
            *img = Image {
                width,
                height,
                format,
                bytes: vec![0; size],
            };
        }
        let mut differ = 0u64;
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        for &(pa, len, dst) in pieces {
            let (dst, len) = (dst as usize, len as usize);
            if dst + len > img.bytes.len() {
                continue;
            }
            buf.resize(len, 0);
            seen.resize(len, 0);
            let Some(unknown) = modelled(pa, &mut buf) else {
                continue;
            };
            self.unknown_lines += unknown;
            if real.read(pa, &mut seen) {
                differ += buf.iter().zip(&seen).filter(|(a, b)| a != b).count() as u64;
            }
            img.bytes[dst..dst + len].copy_from_slice(&buf);
        }
        if differ > 0 {
            self.transfers_differing += 1;
            self.bytes_differing += differ;
        }
    }

    /// A flush of `resource` to the screen.
    pub fn flush(&mut self, resource: u32) -> Result<(), String> {
        self.flushes += 1;
        self.last_flushed = Some(resource);
        if self.all {
            let name = format!("flush-{:05}.ppm", self.flushes);
            self.write(resource, &name)?;
        }
        Ok(())
    }

    fn write(&mut self, resource: u32, name: &str) -> Result<(), String> {
        let Some(img) = self.images.get(&resource) else {
            return Ok(());
        };
        let path = self.dir.join(name);
        std::fs::write(&path, ppm(img.width, img.height, img.format, &img.bytes))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.written.push(path);
        Ok(())
    }

    /// Write the last flushed image as `final.ppm`; returns its path.
    pub fn finish(&mut self) -> Result<Option<PathBuf>, String> {
        let Some(r) = self.last_flushed else {
            return Ok(None);
        };
        self.write(r, "final.ppm")?;
        Ok(self.written.last().cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phys::VecMem;

    #[test]
    fn formats_and_transfers() {
        assert_eq!(rgb(2, &[1, 2, 3, 4]), [3, 2, 1]);
        assert_eq!(rgb(4, &[1, 2, 3, 4]), [2, 3, 4]);
        assert_eq!(rgb(67, &[1, 2, 3, 4]), [1, 2, 3]);
        assert_eq!(rgb(121, &[1, 2, 3, 4]), [4, 3, 2]);
        let dir = std::env::temp_dir().join(format!("frames-test-{}", std::process::id()));
        let mut f = Frames::new(&dir, false).unwrap();
        let real = VecMem::new(0x1000, 64);
        real.write(0x1000, &[9u8; 16]);
        // The modelled RAM says zeros (the CPU's bytes never reached RAM).
        let mut modelled = |_pa: u64, out: &mut [u8]| {
            out.fill(0);
            Some(0)
        };
        f.transfer(3, 2, 2, 2, &[(0x1000, 16, 0)], &mut modelled, &real);
        assert_eq!(
            (f.transfers, f.transfers_differing, f.bytes_differing),
            (1, 1, 16)
        );
        f.flush(3).unwrap();
        let path = f.finish().unwrap().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"P6\n2 2\n255\n"));
        assert_eq!(bytes.len(), 11 + 12);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
