//! The sanitizer proper: per-CPU translation state, the table of translated
//! instructions, the syscall log, the device bus and the cache model, fed by the
//! front end's callbacks (the QEMU plugin, or a test).

use crate::cost::Cost;
use crate::frames::Frames;
use crate::insn::{DcVa, SysReg};
use crate::mmu::{Regime, Tlb};
use crate::options::Options;
use crate::phys::{PhysMem, RamFile, SharedMem};
use crate::virtio::mmio::Mmio;
use crate::virtio::{Bus, Completed, FrameOp, Submitted};
use cachemodel::{Config, DcOp, DevCmd, MemType, Model, Observer, Origin, SetWayOp};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Syscalls remembered.
const SYSCALL_LOG: usize = 4096;
/// User addresses are below this (TTBR0, 48 bits).
pub const USER_END: u64 = 1 << 48;
/// SCTLR_EL1.M: the MMU is on.
const SCTLR_M: u64 = 1;
/// SCTLR_EL1.UCI: EL0 may clean by address (`DC CVAC`, `CVAU`, `CIVAC`, ...).
const SCTLR_UCI: u64 = 1 << 26;
/// SCTLR_EL1.DZE: EL0 may `DC ZVA`.
const SCTLR_DZE: u64 = 1 << 14;
/// `DC ZVA` block size (`DCZID_EL0.BS` = 4 words on QEMU's Cortex-A72).
const ZVA_BLOCK: u64 = 64;

/// One executed `SVC`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// Its number (syscalls on all CPUs counted; the model's `Origin::seq` is the count
    /// when an instruction ran).
    pub seq: u32,
    /// The CPU.
    pub cpu: usize,
    /// TTBR0_EL1 then: the address space (task) that made the call.
    pub space: u64,
    /// PC of the `SVC`.
    pub pc: u64,
    /// The `SVC` instruction ([`Sanitizer::insn`]).
    pub insn: u32,
    /// Link register (the caller of the syscall wrapper).
    pub lr: u64,
    /// `x8`: the call number.
    pub nr: u64,
    /// `x0..x5`.
    pub args: [u64; 6],
    /// Lines the kernel cleaned / invalidated / cleaned+invalidated by address on this
    /// CPU from this call until the CPU's next one (what the call really issued).
    pub dc: [u32; 3],
    /// Completing `DSB`s in the same span.
    pub dsb: u32,
    /// `DC CSW/ISW/CISW` in the same span.
    pub set_way: u32,
}

/// A translated instruction the model's origins name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Its address.
    pub pc: u64,
    /// Its encoding.
    pub word: u32,
    /// The translation block it was translated in ([`Sanitizer::block`]): all user
    /// programs are linked at the same addresses, so the block's bytes say which
    /// program an EL0 instruction belongs to.
    pub block: u32,
}

/// A device command the model's `DevCmd`s name.
#[derive(Clone, Debug)]
pub struct Command {
    /// The device.
    pub device: String,
    /// What it was told to do.
    pub what: String,
    /// The register write that submitted it (CPU, instruction, syscall count).
    pub origin: Origin,
    /// Whether it completed.
    pub completed: bool,
}

pub(crate) struct Cpu {
    pub(crate) regime: Regime,
    tlb: Tlb,
    /// The number of this CPU's last syscall.
    last_call: Option<u32>,
}

/// Things the sanitizer could not follow, and other counts.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Accesses and maintenance whose virtual address the sanitizer could not
    /// translate in the guest's tables.
    pub walk_errors: u64,
    /// The first few of them, as (CPU, virtual address, whether QEMU gave the physical
    /// address), for the report.
    pub walk_error_examples: Vec<(usize, u64, bool)>,
    /// Accesses on a machine with several CPUs that QEMU translated but the current
    /// tables no longer map: a page another CPU has just unmapped (a legacy zap),
    /// reached through this CPU's TLB before the TLBI took the entry away, which the
    /// architecture allows. They are placed at QEMU's physical address as cacheable
    /// (what a zapped legacy page is); were that wrong, the model would report
    /// violations, never hide one. Not a limit of the sanitizer.
    pub stale_tlb: u64,
    /// Accesses where the sanitizer's translation disagreed with QEMU's even after a
    /// fresh walk.
    pub pa_mismatches: u64,
    /// `DC CSW/ISW/CISW` operands that do not fit the model's cache geometry (a way or
    /// set beyond it, or a RES0 bit set): the guest's `CCSIDR_EL1` differs from the
    /// geometry, so the operation was not applied (it could not be placed).
    pub set_way_errors: u64,
    /// Register accesses to devices.
    pub io_accesses: u64,
    /// `DC CVAU` (point of unification only; no effect for devices).
    pub cvau: u64,
    /// `DC ZVA`.
    pub zva: u64,
    /// `DC` instructions at EL0 that the architecture does not run there (they trap or
    /// are UNDEFINED: the plugin's callback comes before the instruction, whether it
    /// completes or not), so not modelled: `DC IVAC` and set/way always, the others
    /// without SCTLR_EL1.UCI (`DC ZVA`: DZE).
    pub el0_refused: u64,
    /// `TLBI`s.
    pub tlbi: u64,
    /// Syscalls.
    pub syscalls: u64,
}

impl Counts {
    /// Count an address the sanitizer could not translate (and keep the first few), on
    /// a machine with `cpus` CPUs.
    fn walk_error(&mut self, cpus: usize, cpu: usize, va: u64, qemu_pa: bool) {
        if cpus > 1 && qemu_pa {
            self.stale_tlb += 1;
            return;
        }
        self.walk_errors += 1;
        if self.walk_error_examples.len() < 8 {
            self.walk_error_examples.push((cpu, va, qemu_pa));
        }
    }
}

/// The sanitizer.
pub struct Sanitizer {
    pub(crate) opts: Options,
    pub(crate) model: Model,
    /// The memory-cost model (`cost=on`), fed the same events.
    pub(crate) cost: Option<Cost>,
    pub(crate) mem: Arc<dyn PhysMem>,
    pub(crate) cpus: Vec<Cpu>,
    pub(crate) insns: Vec<Insn>,
    insn_ids: HashMap<(u64, u32, u32), u32>,
    /// Translation blocks: start address and code bytes (EL0 blocks only keep their
    /// bytes), and their ids.
    pub(crate) blocks: Vec<(u64, Vec<u8>)>,
    block_ids: HashMap<(u64, Vec<u8>), u32>,
    pub(crate) bus: Bus,
    pub(crate) commands: HashMap<u32, Command>,
    pub(crate) frames: Option<Frames>,
    /// Per RAM page: the virtual page of the last cacheable store to it, and the
    /// address space (TTBR0_EL1) it was made in.
    page_store: Vec<(u64, u64)>,
    /// Syscalls so far (the last [`SYSCALL_LOG`]).
    pub(crate) syscalls: VecDeque<Syscall>,
    /// Syscalls counted (24 bits).
    seq: u32,
    pub(crate) counts: Counts,
    /// Problems with the sanitizer's own output (image files).
    pub(crate) errors: Vec<String>,
    /// For each kept violation: the syscalls its writing task made between its store
    /// and the violation (taken when it is found; the log is a ring).
    pub(crate) violation_calls: Vec<Vec<Syscall>>,
    /// For each kept violation: the GPU resource its line backed then, if any.
    pub(crate) violation_buffers: Vec<Option<String>>,
}

impl Sanitizer {
    /// A sanitizer for `cpus` CPUs reading RAM from `mem` (RAM size `ram_size` at
    /// `opts.ram_base`).
    pub fn with_memory(
        opts: Options,
        cpus: usize,
        mem: Arc<dyn PhysMem>,
        ram_size: u64,
    ) -> Result<Sanitizer, String> {
        let mut cfg = Config::new(opts.ram_base, ram_size, cpus.clamp(1, 64));
        cfg.snapshots = opts.images.is_some();
        cfg.coherent_devices = opts.coherent_devices;
        cfg.keep = opts.keep;
        let cost = opts
            .cost
            .map(|params| Cost::new(cpus.clamp(1, 64), &cfg.geometry, params));
        let model = Model::new(cfg, Some(Box::new(SharedMem(mem.clone()))));
        let mut bus = Bus::new();
        let (base, stride, count) = opts.virtio_mmio;
        bus.add_transport(Box::new(Mmio::new(0, base, stride, count)));
        let frames = match &opts.images {
            Some(dir) => Some(Frames::new(dir, opts.images_all)?),
            None => None,
        };
        Ok(Sanitizer {
            cpus: (0..cpus.max(1))
                .map(|_| Cpu {
                    regime: Regime::default(),
                    tlb: Tlb::new(),
                    last_call: None,
                })
                .collect(),
            opts,
            model,
            cost,
            mem,
            insns: vec![Insn {
                pc: 0,
                word: 0,
                block: 0,
            }],
            insn_ids: HashMap::new(),
            blocks: vec![(0, Vec::new())],
            block_ids: HashMap::new(),
            bus,
            commands: HashMap::new(),
            frames,
            page_store: vec![(0, 0); (ram_size / 4096) as usize],
            syscalls: VecDeque::new(),
            seq: 0,
            counts: Counts::default(),
            errors: Vec::new(),
            violation_calls: Vec::new(),
            violation_buffers: Vec::new(),
        })
    }

    /// A sanitizer reading RAM from the file the options name.
    pub fn new(opts: Options, cpus: usize) -> Result<Sanitizer, String> {
        let path = opts
            .ram_file
            .clone()
            .ok_or("no ram=FILE: the guest's RAM must be a shared memory-backend-file")?;
        let ram = RamFile::open(&path, opts.ram_base)?;
        let size = opts.ram_size.unwrap_or(ram.len()).min(ram.len());
        Sanitizer::with_memory(opts, cpus, Arc::new(ram), size)
    }

    /// The options it runs with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The model (tests, reports).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The id of a translation block starting at `pc` with code `bytes` (the same for
    /// the same start and bytes). Kernel blocks are not told apart.
    pub fn block(&mut self, pc: u64, bytes: &[u8]) -> u32 {
        let key = if pc < USER_END {
            (pc, bytes.to_vec())
        } else {
            (u64::MAX, Vec::new())
        };
        if let Some(&id) = self.block_ids.get(&key) {
            return id;
        }
        let id = self.blocks.len() as u32;
        self.blocks.push(key.clone());
        self.block_ids.insert(key, id);
        id
    }

    /// The id of a translated instruction (the same for the same PC, encoding and
    /// block).
    pub fn insn(&mut self, pc: u64, word: u32, block: u32) -> u32 {
        if let Some(&id) = self.insn_ids.get(&(pc, word, block)) {
            return id;
        }
        let id = self.insns.len() as u32;
        self.insns.push(Insn { pc, word, block });
        self.insn_ids.insert((pc, word, block), id);
        id
    }

    /// Give an event to the coherency model and, if it runs, the cost model.
    fn observe(&mut self, f: impl Fn(&mut dyn Observer)) {
        f(&mut self.model);
        if let Some(c) = self.cost.as_mut() {
            f(&mut c.model);
        }
    }

    fn origin(&self, cpu: usize, insn: u32) -> Origin {
        Origin {
            cpu: cpu as u8,
            insn,
            seq: self.seq,
        }
    }

    /// Translate `va` on `cpu` (memory type, and the physical address if `qemu_pa` is
    /// not given).
    fn translate(&mut self, cpu: usize, va: u64, qemu_pa: Option<u64>) -> Option<(u64, MemType)> {
        let c = &mut self.cpus[cpu];
        let mem = &*self.mem;
        match c.tlb.translate(&c.regime, va, mem) {
            Ok(t) => match qemu_pa {
                Some(pa) if pa >> 12 != t.pa >> 12 => {
                    c.tlb.forget(&c.regime, va);
                    match c.regime.translate(va, mem) {
                        Ok(t2) if t2.pa >> 12 == pa >> 12 => Some((pa, t2.mem)),
                        Ok(t2) => {
                            self.counts.pa_mismatches += 1;
                            Some((pa, t2.mem))
                        }
                        Err(_) => {
                            self.counts.walk_error(self.cpus.len(), cpu, va, true);
                            Some((pa, MemType::WriteBack))
                        }
                    }
                }
                _ => Some((qemu_pa.unwrap_or(t.pa), t.mem)),
            },
            Err(_) => {
                self.counts
                    .walk_error(self.cpus.len(), cpu, va, qemu_pa.is_some());
                qemu_pa.map(|pa| (pa, MemType::WriteBack))
            }
        }
    }

    /// A load or store by instruction `insn` on `cpu`: `va` as the CPU used it, `pa` as
    /// QEMU translated it, `io` if it went to a device's registers (then `value` is
    /// what was written or read).
    #[allow(clippy::too_many_arguments)]
    pub fn mem(
        &mut self,
        cpu: usize,
        insn: u32,
        va: u64,
        pa: u64,
        size: u64,
        store: bool,
        io: bool,
        value: u64,
    ) {
        let cpu = cpu.min(self.cpus.len() - 1);
        if io {
            self.counts.io_accesses += 1;
            if self.bus.claims(pa) {
                let (mut subs, mut done) = (Vec::new(), Vec::new());
                let mem = self.mem.clone();
                self.bus
                    .access(pa, size as u32, value, store, &*mem, &mut subs, &mut done);
                let origin = self.origin(cpu, insn);
                self.device_events(origin, subs, done);
            }
            return;
        }
        // The part in this page, then (rarely) the part in the next.
        let first = size.min(0x1000 - (va & 0xfff));
        let mut parts = [(va, pa, first), (va + first, 0, size - first)];
        if parts[1].2 > 0 {
            match self.translate(cpu, parts[1].0, None) {
                Some((pa2, _)) => parts[1].1 = pa2,
                None => parts[1].2 = 0,
            }
        }
        let origin = self.origin(cpu, insn);
        for (va, pa, len) in parts {
            if len == 0 {
                continue;
            }
            let Some((pa, mt)) = self.translate(cpu, va, Some(pa)) else {
                continue;
            };
            if store && mt == MemType::WriteBack {
                let space = self.cpus[cpu].regime.ttbr0;
                if let Some(p) = pa
                    .checked_sub(self.opts.ram_base)
                    .and_then(|o| self.page_store.get_mut((o >> 12) as usize))
                {
                    *p = (va & !0xfff, space);
                }
            }
            for (line, mask) in cachemodel::line_pieces(pa, len) {
                let at = line + u64::from(mask.trailing_zeros());
                let n = u64::from(mask.count_ones());
                let v = va + (at - pa);
                if store {
                    self.observe(|o| o.store(origin, at, v, n, mt));
                } else {
                    self.observe(|o| o.load(origin, at, v, n, mt));
                }
            }
            if !store && !mt.cacheable() && self.bus.is_used_ring(pa) {
                self.poll();
            }
        }
        self.note();
    }

    /// Calls each new kept violation's writer made before it (see `violation_calls`).
    #[inline]
    fn note(&mut self) {
        let kept = self.model.violations().len();
        while self.violation_calls.len() < kept {
            let v = self.model.violations()[self.violation_calls.len()];
            let calls = match v.writer {
                Some(cachemodel::Writer::CpuStore(o)) => {
                    let space = self.store_va(v.line).map(|(_, space)| space);
                    self.syscalls
                        .iter()
                        .filter(|s| s.seq > o.seq && space.is_none_or(|sp| sp == s.space))
                        .take(4)
                        .copied()
                        .collect()
                }
                _ => Vec::new(),
            };
            self.violation_calls.push(calls);
            self.violation_buffers.push(self.buffer_of(v.line));
            if self.opts.verbose {
                eprintln!(
                    "sanitizer: {} at line {:#x} ({})",
                    v.kind.name(),
                    v.line,
                    v.why
                );
            }
        }
    }

    /// The GPU resource backing `pa` now, and where in it.
    fn buffer_of(&self, pa: u64) -> Option<String> {
        let gpu = self.bus.gpu()?;
        let (id, off) = gpu.owner_of(pa)?;
        let width = gpu.resource(id).map_or(0, |r| r.width);
        Some(if width > 0 {
            let stride = u64::from(width) * 4;
            format!(
                "GPU resource {id}, backing byte {off} (pixel row {}, column {})",
                off / stride,
                off % stride / 4
            )
        } else {
            format!("GPU resource {id}, backing byte {off}")
        })
    }

    /// Collect device completions (used rings).
    pub fn poll(&mut self) {
        let mut done = Vec::new();
        let mem = self.mem.clone();
        self.bus.poll(&*mem, &mut done);
        self.device_events(Origin::default(), Vec::new(), done);
    }

    fn device_events(&mut self, origin: Origin, subs: Vec<Submitted>, done: Vec<Completed>) {
        for s in subs {
            let cmd = DevCmd(s.cmd);
            self.commands.insert(
                s.cmd,
                Command {
                    device: s.device,
                    what: s.what,
                    origin,
                    completed: false,
                },
            );
            if let (Some(frames), Some(op)) = (self.frames.as_mut(), s.frame.as_ref()) {
                let model = &self.model;
                let mut modelled = |pa: u64, out: &mut [u8]| model.modelled_ram(pa, out);
                let r = match op {
                    FrameOp::Transfer {
                        resource,
                        width,
                        height,
                        format,
                        pieces,
                    } => {
                        frames.transfer(
                            *resource,
                            *width,
                            *height,
                            *format,
                            pieces,
                            &mut modelled,
                            &*self.mem,
                        );
                        Ok(())
                    }
                    FrameOp::Flush { resource } => frames.flush(*resource),
                };
                if let Err(e) = r {
                    self.errors.push(e);
                }
            }
            for d in &s.ring {
                self.observe(|o| {
                    o.device_read_begin(cmd, d.pa, d.len);
                    o.device_read_end(cmd, d.pa, d.len);
                });
            }
            for d in &s.dma {
                if d.write {
                    self.observe(|o| o.device_write_begin(cmd, d.pa, d.len));
                } else {
                    self.observe(|o| o.device_read_begin(cmd, d.pa, d.len));
                }
            }
        }
        for c in done {
            let cmd = DevCmd(c.cmd);
            for d in &c.dma {
                if d.write {
                    self.observe(|o| o.device_write_end(cmd, d.pa, d.len));
                } else {
                    self.observe(|o| o.device_read_end(cmd, d.pa, d.len));
                }
            }
            if let Some(u) = c.used {
                self.observe(|o| {
                    o.device_write_begin(cmd, u.pa, u.len);
                    o.device_write_end(cmd, u.pa, u.len);
                });
            }
            if let Some(info) = self.commands.get_mut(&c.cmd) {
                info.completed = true;
            }
        }
        self.note();
    }

    /// Whether instruction `insn` runs at EL0 on `cpu`: below [`USER_END`] with the MMU
    /// on (the kernel runs below 2^48 only at its load address, with the MMU off: its
    /// boot code's `DC IVAC`s).
    fn at_el0(&self, cpu: usize, insn: u32) -> bool {
        self.cpus[cpu].regime.sctlr & SCTLR_M != 0
            && self
                .insns
                .get(insn as usize)
                .is_some_and(|i| i.pc < USER_END)
    }

    /// Whether EL0 on `cpu` may execute `DC <op>` by address (Arm ARM D23.2.151,
    /// SCTLR_EL1.UCI and DZE): `DC IVAC` never, the cleans with UCI, `DC ZVA` with DZE.
    fn el0_may(&self, cpu: usize, op: DcVa) -> bool {
        let sctlr = self.cpus[cpu].regime.sctlr;
        match op {
            DcVa::Ivac => false,
            DcVa::Zva => sctlr & SCTLR_DZE != 0,
            DcVa::Cvac | DcVa::Civac | DcVa::Cvau => sctlr & SCTLR_UCI != 0,
        }
    }

    /// `DC <op>, Xt` by address executed on `cpu` with operand `xt`. At EL0 only if the
    /// architecture runs it there ([`Counts::el0_refused`]).
    pub fn dc(&mut self, cpu: usize, insn: u32, op: DcVa, xt: u64) {
        let cpu = cpu.min(self.cpus.len() - 1);
        if self.at_el0(cpu, insn) && !self.el0_may(cpu, op) {
            self.counts.el0_refused += 1;
            return;
        }
        let origin = self.origin(cpu, insn);
        let op = match op {
            DcVa::Cvau => {
                self.counts.cvau += 1;
                return;
            }
            DcVa::Zva => {
                self.counts.zva += 1;
                let va = xt & !(ZVA_BLOCK - 1);
                if let Some((pa, mt)) = self.translate(cpu, va, None) {
                    self.observe(|o| o.store(origin, pa, va, ZVA_BLOCK, mt));
                }
                return;
            }
            DcVa::Cvac => DcOp::Clean,
            DcVa::Ivac => DcOp::Invalidate,
            DcVa::Civac => DcOp::CleanInvalidate,
        };
        if let Some((pa, _)) = self.translate(cpu, xt, None) {
            self.observe(|o| o.dc_va(origin, op, pa, xt));
        }
        if let Some(call) = self.current_call(cpu) {
            call.dc[op.index()] += 1;
        }
        self.note();
    }

    /// The log entry of `cpu`'s last syscall.
    fn current_call(&mut self, cpu: usize) -> Option<&mut Syscall> {
        let seq = self.cpus[cpu].last_call?;
        self.syscalls.iter_mut().rev().find(|s| s.seq == seq)
    }

    /// `DC CSW/ISW/CISW, Xt` executed on `cpu` (UNDEFINED at EL0: not modelled there).
    pub fn set_way(&mut self, cpu: usize, insn: u32, op: SetWayOp, xt: u64) {
        let cpu = cpu.min(self.cpus.len() - 1);
        if self.at_el0(cpu, insn) {
            self.counts.el0_refused += 1;
            return;
        }
        let origin = self.origin(cpu, insn);
        match crate::insn::set_way_operand(xt, &self.model.config().geometry) {
            Some(operand) => self.observe(|o| o.dc_set_way(origin, op, operand)),
            None => self.counts.set_way_errors += 1,
        }
        if let Some(call) = self.current_call(cpu) {
            call.set_way = call.set_way.saturating_add(1);
        }
    }

    /// `DSB` with option `crm` executed on `cpu`.
    pub fn dsb(&mut self, cpu: usize, insn: u32, crm: u8) {
        let cpu = cpu.min(self.cpus.len() - 1);
        let origin = self.origin(cpu, insn);
        let completes = crate::insn::dsb_completes_maintenance(crm);
        self.observe(|o| o.dsb(origin, completes));
        if let Some(call) = self.current_call(cpu).filter(|_| completes) {
            call.dsb += 1;
        }
        self.note();
    }

    /// `MSR <reg>, Xt` executed on `cpu`.
    pub fn msr(&mut self, cpu: usize, reg: SysReg, value: u64) {
        let cpu = cpu.min(self.cpus.len() - 1);
        let c = &mut self.cpus[cpu];
        match reg {
            SysReg::Sctlr => c.regime.sctlr = value,
            SysReg::Ttbr0 => {
                c.regime.ttbr0 = value;
                return; // the translation cache is keyed by the root
            }
            SysReg::Ttbr1 => c.regime.ttbr1 = value,
            SysReg::Tcr => c.regime.tcr = value,
            SysReg::Mair => c.regime.mair = value,
        }
        c.tlb.flush();
    }

    /// A `TLBI` (any CPU's: the translation caches of all are flushed).
    pub fn tlbi(&mut self) {
        self.counts.tlbi += 1;
        for c in &mut self.cpus {
            c.tlb.flush();
        }
    }

    /// An `SVC` on `cpu` at `pc` with `lr`, call number `nr` and its first arguments.
    pub fn svc(&mut self, cpu: usize, insn: u32, lr: u64, nr: u64, args: [u64; 6]) {
        let cpu = cpu.min(self.cpus.len() - 1);
        self.counts.syscalls += 1;
        self.seq = self.seq.wrapping_add(1) & 0xff_ffff;
        if self.syscalls.len() == SYSCALL_LOG {
            self.syscalls.pop_front();
        }
        self.syscalls.push_back(Syscall {
            seq: self.seq,
            cpu,
            space: self.cpus[cpu].regime.ttbr0,
            pc: self.insns.get(insn as usize).map_or(0, |i| i.pc),
            insn,
            lr,
            nr,
            args,
            dc: [0; 3],
            dsb: 0,
            set_way: 0,
        });
        self.cpus[cpu].last_call = Some(self.seq);
    }

    /// The virtual address of `pa` in the last cacheable store to its page, and the
    /// address space of that store.
    pub(crate) fn store_va(&self, pa: u64) -> Option<(u64, u64)> {
        let off = pa.checked_sub(self.opts.ram_base)?;
        let (page, space) = *self.page_store.get((off >> 12) as usize)?;
        (page != 0).then_some((page | (pa & 0xfff), space))
    }
}
