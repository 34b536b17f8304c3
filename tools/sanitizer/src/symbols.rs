//! Naming program counters: kernel PCs from the kernel ELF (function and source line,
//! inlined frames included), user PCs from the user programs' ELFs. All user programs
//! are linked at the same address, so a user PC is attributed to the program whose
//! code bytes at that address are the bytes QEMU translated there.

use addr2line::Loader;
use object::{Object, ObjectSegment};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// One user program: its name, symbols and loadable bytes.
struct Program {
    name: String,
    loader: Loader,
    segments: Vec<(u64, Vec<u8>)>,
}

impl Program {
    fn bytes_at(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.segments.iter().find_map(|(base, data)| {
            let off = addr.checked_sub(*base)? as usize;
            data.get(off..off + len)
        })
    }
}

/// Symbol sources.
pub struct Symbols {
    kernel: Option<Loader>,
    programs: Vec<Program>,
}

fn demangled(name: &str) -> String {
    addr2line::demangle_auto(Cow::from(name), Some(addr2line::gimli::DW_LANG_Rust)).into_owned()
}

fn load_program(path: &Path) -> Option<Program> {
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let segments = file
        .segments()
        .filter_map(|s| Some((s.address(), s.data().ok()?.to_vec())))
        .collect();
    Some(Program {
        name: path.file_name()?.to_string_lossy().into_owned(),
        loader: Loader::new(path).ok()?,
        segments,
    })
}

impl Symbols {
    /// Load the kernel ELF and every ELF in `user_dir` (files that fail to parse are
    /// skipped).
    pub fn load(kernel: Option<&Path>, user_dir: Option<&Path>) -> Symbols {
        let kernel = kernel.and_then(|k| Loader::new(k).ok());
        let mut programs = Vec::new();
        if let Some(dir) = user_dir {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|rd| rd.filter_map(|e| Some(e.ok()?.path())).collect())
                .unwrap_or_default();
            paths.sort();
            programs.extend(
                paths
                    .iter()
                    .filter(|p| p.is_file())
                    .filter_map(|p| load_program(p)),
            );
        }
        Symbols { kernel, programs }
    }

    /// No symbols at all.
    pub fn none() -> Symbols {
        Symbols {
            kernel: None,
            programs: Vec::new(),
        }
    }

    /// `function (file:line)` of a kernel PC, innermost inlined frame first, outer
    /// frames after ` <- `.
    pub fn kernel(&self, pc: u64) -> Option<String> {
        let k = self.kernel.as_ref()?;
        let mut names = Vec::new();
        if let Ok(mut frames) = k.find_frames(pc) {
            while let Ok(Some(f)) = frames.next() {
                let func = f
                    .function
                    .as_ref()
                    .and_then(|n| n.demangle().ok().map(|s| s.into_owned()));
                let loc = f
                    .location
                    .as_ref()
                    .and_then(|l| Some(format!("{}:{}", short_path(l.file?), l.line.unwrap_or(0))));
                // Frames of core and of third-party crates say little about the kernel.
                let library = func.as_deref().is_some_and(|f| {
                    f.starts_with("core::") || f.starts_with("<core::") || f.starts_with("<tock")
                }) || loc.as_deref().is_some_and(|l| l.contains("crates.io"));
                if library {
                    continue;
                }
                match (func, loc) {
                    (Some(func), Some(loc)) => names.push(format!("{func} ({loc})")),
                    (Some(func), None) => names.push(func),
                    (None, Some(loc)) => names.push(loc),
                    (None, None) => {}
                }
            }
        }
        if names.is_empty() {
            return k.find_symbol(pc).map(demangled);
        }
        names.truncate(3);
        Some(names.join(" <- "))
    }

    /// The user program whose bytes at `pc` are `code` (a translation block).
    pub fn user_program(&self, pc: u64, code: &[u8]) -> Option<usize> {
        if code.is_empty() {
            return None;
        }
        self.programs
            .iter()
            .position(|p| p.bytes_at(pc, code.len()) == Some(code))
    }

    /// `program: function` of `pc` in user program `program`.
    pub fn user_symbol(&self, program: usize, pc: u64) -> Option<String> {
        let p = self.programs.get(program)?;
        let func = p
            .loader
            .find_symbol(pc)
            .map(demangled)
            .unwrap_or_else(|| "?".into());
        Some(format!("{}: {func}", p.name))
    }
}

/// The last two components of a source path (`cache.rs` alone is ambiguous).
fn short_path(p: &str) -> String {
    let parts: Vec<&str> = p.rsplit('/').take(4).collect();
    parts.into_iter().rev().collect::<Vec<_>>().join("/")
}
