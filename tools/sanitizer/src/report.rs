//! The run's report: the counts, the maintenance issued / needed / wasted, and every
//! kept violation resolved into names (CPU, symbolised PCs, the physical and virtual
//! line, the GPU resource it belongs to, the device command, and the syscalls the
//! writing CPU made between its store and the device's access).

use crate::session::{Sanitizer, Syscall};
use crate::symbols::Symbols;
use cachemodel::{Actor, DcOp, Kind, Origin, Violation, Writer};
use serde_json::{json, Value};

/// Kernel addresses start here (TTBR1 half).
const KERNEL_VA: u64 = 0xffff_0000_0000_0000;

/// The report of a run.
pub struct Report {
    /// Machine-readable form.
    pub json: Value,
    /// Human-readable form.
    pub text: String,
}

impl Report {
    /// The JSON form, indented.
    pub fn json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.json).unwrap_or_default()
    }
}

fn sys_name(nr: u64) -> String {
    abi::Sys::try_from(nr).map_or(format!("syscall {nr}"), |s| {
        let d = format!("{s:?}");
        // CamelCase -> snake_case, as the ABI table names them.
        let mut out = String::new();
        for (i, ch) in d.chars().enumerate() {
            if ch.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
        }
        out
    })
}

fn sync_flags(f: u64) -> String {
    use abi::sync::{END, READ, START, USER_CLEANED, WRITE};
    let phase = match f & (START | END) {
        START => "START",
        END => "END",
        _ => "?",
    };
    let dir = match f & (READ | WRITE) {
        READ => "READ",
        WRITE => "WRITE",
        x if x == READ | WRITE => "RW",
        _ => "?",
    };
    let cleaned = if f & USER_CLEANED != 0 {
        "|USER_CLEANED"
    } else {
        ""
    };
    format!("{phase}|{dir}{cleaned}")
}

/// `buffer_sync(h=0x10001, END|WRITE, 0, 0)`.
pub fn describe_syscall(s: &Syscall) -> String {
    let name = sys_name(s.nr);
    let a = s.args;
    match abi::Sys::try_from(s.nr) {
        Ok(abi::Sys::BufferSync) => {
            format!(
                "{name}(h={:#x}, {}, {}, {})",
                a[0],
                sync_flags(a[1]),
                a[2],
                a[3]
            )
        }
        Ok(abi::Sys::BufferSyncRect) => format!(
            "{name}(h={:#x}, {}, offset {}, row {})",
            a[0],
            sync_flags(a[1]),
            a[2],
            a[3]
        ),
        Ok(abi::Sys::GpuPresent) => format!(
            "{name}(h={:#x}, ({}, {}) {}x{})",
            a[0], a[1], a[2], a[3], a[4]
        ),
        Ok(abi::Sys::BlkRead) => format!(
            "{name}(h={:#x}, offset {}, sector {}, count {})",
            a[0], a[1], a[2], a[3]
        ),
        Ok(abi::Sys::Exit) => format!("{name}({})", a[0]),
        _ => format!("{name}({:#x}, {:#x}, ...)", a[0], a[1]),
    }
}

/// What the kernel issued during a syscall: `64 DC CVAC, 1 DSB` or `no maintenance`.
fn issued(s: &Syscall) -> String {
    let mut parts: Vec<String> = DcOp::ALL
        .iter()
        .filter(|op| s.dc[op.index()] > 0)
        .map(|op| format!("{} {}", s.dc[op.index()], op.name()))
        .collect();
    if s.set_way > 0 {
        parts.push(format!("{} set/way", s.set_way));
    }
    if s.dsb > 0 {
        parts.push(format!("{} DSB", s.dsb));
    }
    if parts.is_empty() {
        "no maintenance".into()
    } else {
        parts.join(", ")
    }
}

impl Sanitizer {
    /// Name `pc`, an address of the program that ran translation block `block`
    /// (kernel symbols, the user program whose code the block holds, or the raw
    /// address).
    pub(crate) fn name_pc(&self, syms: &Symbols, pc: u64, block: u32) -> String {
        let named = if pc >= KERNEL_VA {
            syms.kernel(pc)
        } else {
            self.blocks.get(block as usize).and_then(|(start, code)| {
                let program = syms.user_program(*start, code)?;
                syms.user_symbol(program, pc)
            })
        };
        match named {
            Some(n) => format!("{pc:#x} {n}"),
            None if pc < KERNEL_VA && pc >= self.opts.ram_base => {
                format!("{pc:#x} (kernel, MMU off)")
            }
            None => format!("{pc:#x}"),
        }
    }

    fn origin_json(&self, syms: &Symbols, o: Origin) -> Value {
        let i = self
            .insns
            .get(o.insn as usize)
            .copied()
            .unwrap_or(self.insns[0]);
        json!({ "cpu": o.cpu, "pc": format!("{:#x}", i.pc), "at": self.name_pc(syms, i.pc, i.block) })
    }

    /// The syscalls of kept violation `index`'s writing task between its store and
    /// the violation.
    fn syscalls_after(&self, syms: &Symbols, index: usize) -> Vec<Value> {
        self.violation_calls
            .get(index)
            .into_iter()
            .flatten()
            .map(|s| {
                let block = self.insns.get(s.insn as usize).map_or(0, |i| i.block);
                json!({
                    "call": describe_syscall(s),
                    "pc": format!("{:#x}", s.pc),
                    "caller": self.name_pc(syms, s.lr, block),
                    "kernel_issued": issued(s),
                })
            })
            .collect()
    }

    fn writer_json(&self, syms: &Symbols, w: Option<Writer>, index: usize) -> Value {
        match w {
            Some(Writer::CpuStore(o)) => {
                let mut v = self.origin_json(syms, o);
                v["kind"] = "cacheable store".into();
                v["then"] = self.syscalls_after(syms, index).into();
                v
            }
            Some(Writer::NcStore(o)) => {
                let mut v = self.origin_json(syms, o);
                v["kind"] = "non-cacheable store".into();
                v
            }
            Some(Writer::Device(c)) => self.command_json(syms, c.0),
            None => Value::Null,
        }
    }

    fn command_json(&self, syms: &Symbols, cmd: u32) -> Value {
        match self.commands.get(&cmd) {
            Some(c) => json!({
                "kind": "device command",
                "device": c.device,
                "command": c.what,
                "id": cmd,
                "submitted_by": self.origin_json(syms, c.origin),
            }),
            None => json!({ "kind": "device command", "id": cmd }),
        }
    }

    fn violation_json(&self, syms: &Symbols, index: usize, v: &Violation) -> Value {
        let actor = match v.actor {
            Actor::Cpu { origin, va } => {
                let mut a = self.origin_json(syms, origin);
                a["va"] = format!("{va:#x}").into();
                a
            }
            Actor::Device(c) => self.command_json(syms, c.0),
            Actor::End => "end of run".into(),
        };
        let first = v.bytes.trailing_zeros();
        let last = 63 - v.bytes.leading_zeros();
        let resource = self.violation_buffers.get(index).cloned().flatten();
        let va = match v.actor {
            Actor::Cpu { va, .. } if va != 0 => Some(va & !63),
            _ => self.store_va(v.line).map(|(va, _)| va),
        };
        json!({
            "kind": v.kind.name(),
            "why": v.why,
            "line_pa": format!("{:#x}", v.line),
            "line_va": va.map(|va| format!("{va:#x}")),
            "bytes": format!("{first}..={last}"),
            "buffer": resource,
            "by": actor,
            "writer": self.writer_json(syms, v.writer, index),
        })
    }

    /// The report so far (symbols loaded from the options' ELFs).
    pub fn report(&mut self) -> Report {
        let syms = Symbols::load(self.opts.kernel.as_deref(), self.opts.user_dir.as_deref());
        let final_image = match self.frames.as_mut().map(|f| f.finish()) {
            Some(Ok(p)) => p.map(|p| p.display().to_string()),
            Some(Err(e)) => {
                self.errors.push(e);
                None
            }
            None => None,
        };
        let m = &self.model;
        let st = m.stats();
        let sum = m.summary();
        let dc: serde_json::Map<String, Value> = DcOp::ALL
            .iter()
            .map(|op| {
                let c = st.dc[op.index()];
                (
                    op.name().to_string(),
                    json!({"issued": c.issued, "effective": c.effective}),
                )
            })
            .collect();
        let by_kind: serde_json::Map<String, Value> = Kind::ALL
            .iter()
            .map(|k| (k.name().to_string(), st.violations_of(*k).into()))
            .collect();
        let details: Vec<Value> = m
            .violations()
            .iter()
            .enumerate()
            .map(|(i, v)| self.violation_json(&syms, i, v))
            .collect();
        let frames = self.frames.as_ref().map(|f| {
            json!({
                "transfers": f.transfers,
                "transfers_differing": f.transfers_differing,
                "bytes_differing": f.bytes_differing,
                "unknown_lines": f.unknown_lines,
                "flushes": f.flushes,
                "final_image": final_image,
            })
        });
        let json = json!({
            "violations": st.violation_total(),
            "violation_lines": m.violation_lines(),
            "by_kind": by_kind,
            "maintenance": {
                "issued": sum.issued,
                "needed": sum.needed,
                "waste": sum.waste,
                "clean_not_dirty": sum.clean_not_dirty,
                "invalidate_not_stale": sum.invalidate_not_stale,
                "on_cpu_only_lines": sum.on_cpu_only_lines,
                "dc": dc,
                "set_way": st.set_way,
                "dsb": st.dsb,
                "dsb_completing": st.dsb_completing,
                "dc_cvau": self.counts.cvau,
                "dc_zva": self.counts.zva,
                "dc_el0_refused": self.counts.el0_refused,
            },
            "traffic": {
                "loads": st.loads,
                "stores": st.stores,
                "nc_loads": st.nc_loads,
                "nc_stores": st.nc_stores,
                "device_read_lines": st.device_read_lines,
                "device_write_lines": st.device_write_lines,
                "device_commands": self.bus.submitted,
                "syscalls": self.counts.syscalls,
                "tlbi": self.counts.tlbi,
                "io_accesses": self.counts.io_accesses,
            },
            "sanitizer": {
                "walk_errors": self.counts.walk_errors,
                "walk_error_examples": self.counts.walk_error_examples.iter().map(|&(cpu, va, pa)| {
                    serde_json::json!({"cpu": cpu, "va": format!("{va:#x}"), "qemu_pa": pa})
                }).collect::<Vec<_>>(),
                "stale_tlb": self.counts.stale_tlb,
                "pa_mismatches": self.counts.pa_mismatches,
                "set_way_errors": self.counts.set_way_errors,
                "outside_ram": st.outside,
                "bus_errors": self.bus.errors,
                "errors": self.errors,
                "instructions_seen": self.insns.len() - 1,
            },
            "frames": frames,
            "cost": self.cost.as_ref().map(|c| c.json()),
            "details": details,
        });
        let text = crate::text::render(&json);
        Report { json, text }
    }
}
