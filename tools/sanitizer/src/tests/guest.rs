use crate::insn::{DcVa, SysReg};
use crate::phys::VecMem;
use crate::{Options, Sanitizer};
use std::sync::Arc;

pub const RAM: u64 = 0x4000_0000;
pub const LINEAR: u64 = 0xffff_0000_0000_0000;
pub const GPU: u64 = 0x0a00_3e00;
pub const DESC: u64 = RAM + 0x1_0000;
pub const AVAIL: u64 = RAM + 0x1_0400;
pub const USED: u64 = RAM + 0x1_0500;
pub const CMD: u64 = RAM + 0x2_0000;
/// A 16x16 resource's backing (1 KiB), in write-back memory.
pub const BUF: u64 = RAM + 0x40_0000;
pub const QSIZE: u16 = 8;

/// A one-CPU guest: RAM, the kernel's linear map (first 2 MiB non-cacheable for the
/// rings, the rest write-back), a GPU whose control queue is registered.
pub struct Guest {
    pub s: Sanitizer,
    pub ram: Arc<VecMem>,
    avail: u16,
    used: u16,
    next_desc: u16,
    insn: u32,
}

impl Guest {
    pub fn new(images: Option<&std::path::Path>) -> Guest {
        Guest::with(Options {
            images: images.map(|p| p.to_path_buf()),
            ..Options::default()
        })
    }

    pub fn with(opts: Options) -> Guest {
        let ram = Arc::new(VecMem::new(RAM, 16 << 20));
        // TTBR1: L0 at +0x1000 -> L1 at +0x2000 -> L2 at +0x3000 (2 MiB blocks).
        ram.write_u64(RAM + 0x1000, (RAM + 0x2000) | 3);
        ram.write_u64(RAM + 0x2000 + 8, (RAM + 0x3000) | 3);
        for i in 0..8u64 {
            let attr = if i == 0 { 1 } else { 0 }; // NC, WB
            ram.write_u64(
                RAM + 0x3000 + 8 * i,
                (RAM + (i << 21)) | 1 | (attr << 2) | (1 << 10),
            );
        }
        let mut s = Sanitizer::with_memory(opts, 1, ram.clone(), 16 << 20).unwrap();
        s.msr(0, SysReg::Mair, 0x0004_44ff);
        s.msr(0, SysReg::Tcr, 16 | (16 << 16) | (2 << 30));
        s.msr(0, SysReg::Ttbr1, RAM + 0x1000);
        s.msr(0, SysReg::Sctlr, 0b101);
        let mut g = Guest {
            s,
            ram,
            avail: 0,
            used: 0,
            next_desc: 0,
            insn: 0,
        };
        g.io(GPU + 0x008, 16, false); // DeviceID: a GPU
        g.io(GPU + 0x070, 0, true);
        g.io(GPU + 0x030, 0, true);
        g.io(GPU + 0x038, u64::from(QSIZE), true);
        g.io(GPU + 0x080, DESC, true);
        g.io(GPU + 0x090, AVAIL, true);
        g.io(GPU + 0x0a0, USED, true);
        g.io(GPU + 0x044, 1, true);
        g
    }

    fn id(&mut self, pc: u64) -> u32 {
        self.insn += 1;
        let block = self.s.block(pc, &[0, 0, 0, 0xf9]);
        self.s.insn(pc, 0xf900_0000, block)
    }

    pub fn io(&mut self, pa: u64, value: u64, store: bool) {
        let i = self.id(0xffff_ff80_0000_1000);
        self.s.mem(0, i, pa + LINEAR, pa, 4, store, true, value);
    }

    /// A CPU store of `bytes` at physical `pa` through the linear map.
    pub fn store(&mut self, pa: u64, bytes: &[u8], pc: u64) {
        self.ram.write(pa, bytes);
        let i = self.id(pc);
        self.s
            .mem(0, i, pa + LINEAR, pa, bytes.len() as u64, true, false, 0);
    }

    pub fn load(&mut self, pa: u64, size: u64, pc: u64) {
        let i = self.id(pc);
        self.s.mem(0, i, pa + LINEAR, pa, size, false, false, 0);
    }

    pub fn dc(&mut self, op: DcVa, pa: u64, len: u64) {
        let i = self.id(0xffff_ff80_0000_2000);
        let mut at = pa & !63;
        while at < pa + len {
            self.s.dc(0, i, op, at + LINEAR);
            at += 64;
        }
    }

    /// `DC <op>` over `[pa, pa + len)` by an instruction at `pc` (below 2^48: EL0).
    pub fn dc_at(&mut self, op: DcVa, pa: u64, len: u64, pc: u64) {
        let i = self.id(pc);
        let mut at = pa & !63;
        while at < pa + len {
            self.s.dc(0, i, op, at + LINEAR);
            at += 64;
        }
    }

    /// `DC <op>` by set/way with operand `xt` (as read from the guest's register).
    pub fn set_way(&mut self, op: cachemodel::SetWayOp, xt: u64) {
        let i = self.id(0xffff_ff80_0000_2800);
        self.s.set_way(0, i, op, xt);
    }

    pub fn dsb(&mut self) {
        let i = self.id(0xffff_ff80_0000_3000);
        self.s.dsb(0, i, 15);
    }

    /// Put a command (at CMD + 0x400 * n) with a 24-byte response in the queue and
    /// notify the device; returns the chain head.
    pub fn submit(&mut self, cmd: &[u8]) -> u16 {
        let head = self.next_desc % QSIZE;
        self.next_desc += 2;
        let at = CMD + 0x400 * u64::from(head / 2);
        self.store(at, cmd, 0xffff_ff80_0000_4000); // NC (first 2 MiB)
        let desc = |i: u16, addr: u64, len: u32, flags: u16, next: u16| {
            let mut b = [0u8; 16];
            b[0..8].copy_from_slice(&addr.to_le_bytes());
            b[8..12].copy_from_slice(&len.to_le_bytes());
            b[12..14].copy_from_slice(&flags.to_le_bytes());
            b[14..16].copy_from_slice(&next.to_le_bytes());
            (DESC + 16 * u64::from(i), b)
        };
        let (p0, d0) = desc(head, at, cmd.len() as u32, 1, head + 1);
        let (p1, d1) = desc(head + 1, at + 0x200, 24, 2, 0);
        self.store(p0, &d0, 0xffff_ff80_0000_4004);
        self.store(p1, &d1, 0xffff_ff80_0000_4008);
        let slot = AVAIL + 4 + 2 * u64::from(self.avail % QSIZE);
        self.store(slot, &head.to_le_bytes(), 0xffff_ff80_0000_400c);
        self.avail = self.avail.wrapping_add(1);
        self.store(AVAIL + 2, &self.avail.to_le_bytes(), 0xffff_ff80_0000_4010);
        self.io(GPU + 0x050, 0, true);
        head
    }

    /// The device completes chain `head`; the driver reads the used index.
    pub fn complete(&mut self, head: u16) {
        let slot = USED + 4 + 8 * u64::from(self.used % QSIZE);
        self.ram.write(slot, &u32::from(head).to_le_bytes());
        self.used = self.used.wrapping_add(1);
        self.ram.write(USED + 2, &self.used.to_le_bytes());
        self.load(USED + 2, 2, 0xffff_ff80_0000_5000);
    }
}

pub fn gpu_cmd(ty: u32, fields: &[u32]) -> Vec<u8> {
    let mut v = vec![0u8; 24];
    v[0..4].copy_from_slice(&ty.to_le_bytes());
    for f in fields {
        v.extend_from_slice(&f.to_le_bytes());
    }
    v
}

/// CREATE_2D 16x16 resource 1, ATTACH_BACKING of BUF.
pub fn setup_resource(g: &mut Guest) {
    let h = g.submit(&gpu_cmd(0x101, &[1, 2, 16, 16]));
    g.complete(h);
    let lo = BUF as u32;
    let hi = (BUF >> 32) as u32;
    let h = g.submit(&gpu_cmd(0x106, &[1, 1, lo, hi, 1024, 0]));
    g.complete(h);
}

pub fn transfer(g: &mut Guest) -> u16 {
    g.submit(&gpu_cmd(0x105, &[0, 0, 16, 16, 0, 0, 1, 0]))
}
