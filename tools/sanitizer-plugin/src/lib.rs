//! # The coherency sanitizer as a QEMU TCG plugin
//!
//! ```text
//! qemu-system-aarch64 ... \
//!   -object memory-backend-file,id=ram,size=1G,mem-path=/dev/shm/guest-ram,share=on \
//!   -machine memory-backend=ram \
//!   -plugin target/release/libsanitizer_plugin.so,ram=/dev/shm/guest-ram,kernel=kernel.elf,report=report.json
//! ```
//!
//! A thin shell: when QEMU translates a block, every instruction gets a memory
//! callback (loads and stores: virtual address, QEMU's physical address, size, value,
//! device or RAM) and the instructions the sanitizer watches (`DC`, `DSB`, `MSR` to the
//! translation registers, `TLBI`, `SVC`) get an execution callback that reads their
//! operand registers. Everything goes to one [`sanitizer::Sanitizer`]; at exit its
//! report is printed (stderr) and written (`report=FILE.json`, and the same text
//! beside it as `FILE.txt`). What the sanitizer models and what it cannot see is
//! in the `sanitizer` crate's documentation.
//!
//! With `cost=on` the memory-cost model runs beside it: every translation block also
//! counts its instructions, and every `MRS Xt, PMCCNTR_EL0` records the penalty its
//! CPU had accumulated and (read from Xt before the next instruction) the value it
//! returned, written to `FILE.counters.tsv` beside the report.
//!
//! Built on the `qemu-plugin` crate (GPL-2.0-or-later, plugin API version 4, which
//! QEMU 10.0 implements: registers readable from callbacks, memory values in memory
//! callbacks; physical memory is read from the shared RAM file, since reading it by
//! physical address needs API version 5, QEMU 10.1).

use qemu_plugin::install::{Args, Info};
use qemu_plugin::{
    qemu_plugin_get_registers, qemu_plugin_register_atexit_cb, register, CallbackFlags,
    HasCallbacks, MemRW, MemValue, MemoryInfo, PluginId, Register, RegisterDescriptor,
    TranslationBlock, VCPUIndex,
};
use sanitizer::insn::{decode, reads_cycle_counter, Watched};
use sanitizer::{Options, Sanitizer};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The sanitizer, shared by every vCPU thread's callbacks.
static STATE: OnceLock<Mutex<Sanitizer>> = OnceLock::new();
/// Per vCPU: the register handles of x0..x30.
static REGS: OnceLock<Mutex<Vec<Vec<Option<RegisterDescriptor<'static>>>>>> = OnceLock::new();

fn state() -> MutexGuard<'static, Sanitizer> {
    match STATE.get().expect("installed").lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// `Xn` of `vcpu` (`n` = 31 is XZR).
fn xreg(vcpu: VCPUIndex, n: u8) -> u64 {
    if n >= 31 {
        return 0;
    }
    let Some(regs) = REGS.get() else {
        return 0;
    };
    let regs = match regs.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let Some(Some(r)) = regs.get(vcpu as usize).and_then(|v| v.get(usize::from(n))) else {
        return 0;
    };
    let bytes = r.read().unwrap_or_default();
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(bytes) {
        *d = s;
    }
    u64::from_le_bytes(b)
}

fn value(info: &MemoryInfo) -> u64 {
    match info.value() {
        MemValue::U8(v) => v.into(),
        MemValue::U16(v) => v.into(),
        MemValue::U32(v) => v.into(),
        MemValue::U64(v) => v,
        MemValue::U128(v) => v as u64,
    }
}

fn finish() {
    let Some(s) = STATE.get() else {
        return;
    };
    let mut s = match s.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    let report = s.report();
    eprint!("{}", report.text);
    if let Some(path) = s.options().report.clone() {
        let text = path.with_extension("txt");
        let mut files = vec![
            (path.clone(), report.json_pretty()),
            (text, report.text.clone()),
        ];
        if let Some(c) = s.cost() {
            files.push((path.with_extension("counters.tsv"), c.reads_tsv()));
        }
        for (p, body) in files {
            if let Err(e) = std::fs::write(&p, body) {
                eprintln!("sanitizer: writing {}: {e}", p.display());
            }
        }
    }
}

/// If a cycle-counter read on `vcpu` waits for its value, read its register now.
fn counter_value(vcpu: VCPUIndex) {
    let pending = state().counter_pending(vcpu as usize);
    if let Some(rt) = pending {
        let v = xreg(vcpu, rt);
        state().counter_value(vcpu as usize, v);
    }
}

struct Plugin;

impl Register for Plugin {
    fn register(&mut self, id: PluginId, args: &Args, info: &Info) -> qemu_plugin::Result<()> {
        let opts = match Options::parse(args.raw.iter().map(String::as_str)) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("sanitizer: {e}");
                std::process::exit(1);
            }
        };
        let cpus = info
            .system
            .as_ref()
            .map_or(1, |s| s.smp_vcpus.max(1) as usize);
        let s = match Sanitizer::new(opts, cpus) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("sanitizer: {e}");
                std::process::exit(1);
            }
        };
        let _ = STATE.set(Mutex::new(s));
        let _ = REGS.set(Mutex::new(vec![Vec::new(); cpus]));
        qemu_plugin_register_atexit_cb(id, |_| finish())?;
        Ok(())
    }
}

impl HasCallbacks for Plugin {
    fn on_vcpu_init(&mut self, _id: PluginId, vcpu: VCPUIndex) -> qemu_plugin::Result<()> {
        let all = qemu_plugin_get_registers()?;
        let mut x: Vec<Option<RegisterDescriptor<'static>>> = vec![None; 31];
        for r in all {
            if let Some(n) = r
                .name
                .strip_prefix('x')
                .and_then(|n| n.parse::<usize>().ok())
            {
                if n < 31 {
                    x[n] = Some(r);
                }
            }
        }
        if let Some(regs) = REGS.get() {
            let mut regs = regs.lock().unwrap_or_else(|p| p.into_inner());
            let i = vcpu as usize;
            if regs.len() <= i {
                regs.resize(i + 1, Vec::new());
            }
            regs[i] = x;
        }
        Ok(())
    }

    fn on_translation_block_translate(
        &mut self,
        _id: PluginId,
        tb: TranslationBlock,
    ) -> qemu_plugin::Result<()> {
        let tb_pc = tb.vaddr();
        let mut code = Vec::new();
        for insn in tb.instructions() {
            code.extend_from_slice(insn.data().get(..4).unwrap_or(&[0; 4]));
        }
        let block = state().block(tb_pc, &code);
        let cost = state().cost_on();
        let n = tb.size();
        if cost {
            // The cost model: count the block's instructions, and take the value of a
            // cycle-counter read that ended the previous block.
            tb.register_execute_callback_flags(
                move |vcpu| {
                    counter_value(vcpu);
                    state().executed(vcpu as usize, n as u64);
                },
                CallbackFlags::QEMU_PLUGIN_CB_R_REGS,
            );
        }
        let mut after_counter_read = false;
        for (i, (insn, word)) in tb.instructions().zip(code.chunks_exact(4)).enumerate() {
            let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            let pc = insn.vaddr();
            let id = state().insn(pc, word, block);
            if cost {
                // The value of a cycle-counter read is in its register once it ran: read
                // it before the next instruction (or the next block).
                if after_counter_read {
                    insn.register_execute_callback_flags(
                        counter_value,
                        CallbackFlags::QEMU_PLUGIN_CB_R_REGS,
                    );
                }
                after_counter_read = false;
                if let Some(rt) = reads_cycle_counter(word) {
                    let rest = (n - i) as u64;
                    insn.register_execute_callback(move |vcpu| {
                        state().counter_read(vcpu as usize, rt, rest, pc);
                    });
                    after_counter_read = true;
                }
            }
            insn.register_memory_access_callback(
                move |vcpu, info, va| {
                    let Some(hw) = info.hwaddr(va) else {
                        return;
                    };
                    let size = 1u64 << info.size_shift();
                    let store = info.is_store();
                    let io = hw.is_io();
                    let v = if io { value(&info) } else { 0 };
                    state().mem(vcpu as usize, id, va, hw.hwaddr(), size, store, io, v);
                },
                MemRW::QEMU_PLUGIN_MEM_RW,
            );
            let Some(w) = decode(word) else {
                continue;
            };
            let regs = CallbackFlags::QEMU_PLUGIN_CB_R_REGS;
            match w {
                Watched::DcVa(op, rt) => insn.register_execute_callback_flags(
                    move |vcpu| {
                        let xt = xreg(vcpu, rt);
                        state().dc(vcpu as usize, id, op, xt);
                    },
                    regs,
                ),
                Watched::DcSetWay(op, rt) => insn.register_execute_callback_flags(
                    move |vcpu| {
                        let xt = xreg(vcpu, rt);
                        state().set_way(vcpu as usize, id, op, xt);
                    },
                    regs,
                ),
                Watched::Dsb(crm) => insn.register_execute_callback(move |vcpu| {
                    state().dsb(vcpu as usize, id, crm);
                }),
                Watched::Msr(reg, rt) => insn.register_execute_callback_flags(
                    move |vcpu| {
                        let v = xreg(vcpu, rt);
                        state().msr(vcpu as usize, reg, v);
                    },
                    regs,
                ),
                Watched::Tlbi => insn.register_execute_callback(move |_| state().tlbi()),
                Watched::Svc => insn.register_execute_callback_flags(
                    move |vcpu| {
                        let args = [0, 1, 2, 3, 4, 5].map(|r| xreg(vcpu, r));
                        let (nr, lr) = (xreg(vcpu, 8), xreg(vcpu, 30));
                        state().svc(vcpu as usize, id, lr, nr, args);
                    },
                    regs,
                ),
            }
        }
        Ok(())
    }
}

register!(Plugin);
