//! A guest in miniature: RAM as QEMU holds it (stores land at once, there are no
//! caches) and the model watching.

use crate::{Config, DcOp, DevCmd, MemType, Model, Observer, Origin, Ram, LINE};
use std::sync::{Arc, Mutex};

pub const BASE: u64 = 0x4000_0000;
pub const SIZE: u64 = 1 << 20;

#[derive(Clone)]
pub struct SharedRam(pub Arc<Mutex<Vec<u8>>>);

impl Ram for SharedRam {
    fn read(&self, pa: u64, out: &mut [u8]) -> bool {
        let ram = self.0.lock().unwrap();
        let Some(off) = pa.checked_sub(BASE) else {
            return false;
        };
        let off = off as usize;
        match ram.get(off..off + out.len()) {
            Some(b) => {
                out.copy_from_slice(b);
                true
            }
            None => false,
        }
    }
}

pub struct Sim {
    pub m: Model,
    pub ram: SharedRam,
    insn: u32,
}

pub fn origin(cpu: u8, insn: u32) -> Origin {
    Origin { cpu, insn, seq: 0 }
}

impl Sim {
    pub fn new() -> Sim {
        Sim::with(|_| {})
    }

    pub fn with(f: impl FnOnce(&mut Config)) -> Sim {
        let mut cfg = Config::new(BASE, SIZE, 2);
        cfg.snapshots = true;
        f(&mut cfg);
        let ram = SharedRam(Arc::new(Mutex::new(vec![0; SIZE as usize])));
        Sim {
            m: Model::new(cfg, Some(Box::new(ram.clone()))),
            ram,
            insn: 0,
        }
    }

    fn next(&mut self, cpu: u8) -> Origin {
        self.insn += 1;
        origin(cpu, self.insn)
    }

    /// CPU `cpu` stores `bytes` at `pa` (QEMU writes RAM at once).
    pub fn store(&mut self, cpu: u8, pa: u64, bytes: &[u8], mem: MemType) -> Origin {
        let o = self.next(cpu);
        let off = (pa - BASE) as usize;
        self.ram.0.lock().unwrap()[off..off + bytes.len()].copy_from_slice(bytes);
        for (line, mask) in crate::line_pieces(pa, bytes.len() as u64) {
            let at = line + u64::from(mask.trailing_zeros());
            self.m.store(o, at, at, u64::from(mask.count_ones()), mem);
        }
        o
    }

    /// Fill `[pa, pa + len)` with `v` through a write-back mapping, 8 bytes at a time.
    pub fn fill(&mut self, cpu: u8, pa: u64, len: u64, v: u8) {
        for at in (pa..pa + len).step_by(8) {
            self.store(cpu, at, &[v; 8], MemType::WriteBack);
        }
    }

    pub fn load(&mut self, cpu: u8, pa: u64, size: u64, mem: MemType) -> Origin {
        let o = self.next(cpu);
        self.m.load(o, pa, pa, size, mem);
        o
    }

    pub fn dc(&mut self, cpu: u8, op: DcOp, pa: u64, len: u64) {
        let o = self.next(cpu);
        let mut at = pa & !(LINE - 1);
        while at < pa + len {
            self.m.dc_va(o, op, at, at);
            at += LINE;
        }
    }

    pub fn dsb(&mut self, cpu: u8) {
        let o = self.next(cpu);
        self.m.dsb(o, true);
    }

    /// A device writes `v` over `[pa, pa + len)`: submitted, lands, completes.
    pub fn device_writes(&mut self, cmd: u32, pa: u64, len: u64, v: u8) {
        self.m.device_write_begin(DevCmd(cmd), pa, len);
        let off = (pa - BASE) as usize;
        self.ram.0.lock().unwrap()[off..off + len as usize].fill(v);
        self.m.device_write_end(DevCmd(cmd), pa, len);
    }

    pub fn device_reads(&mut self, cmd: u32, pa: u64, len: u64) {
        self.m.device_read_begin(DevCmd(cmd), pa, len);
        self.m.device_read_end(DevCmd(cmd), pa, len);
    }

    pub fn kinds(&self) -> Vec<crate::Kind> {
        self.m.violations().iter().map(|v| v.kind).collect()
    }

    pub fn total(&self) -> u64 {
        self.m.stats().violation_total()
    }
}
