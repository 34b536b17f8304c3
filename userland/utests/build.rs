//! Links the user programs with `userland/user.ld` when building for the bare-metal
//! target. One deliberately broken program, `h_bad_program`, is linked with
//! `bad_program.ld` instead (into kernel space), so that `spawn` has a `BadProgram` to
//! refuse.

use std::path::Path;

const BAD_PROGRAM: &str = "h_bad_program";

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let script = format!("{dir}/../user.ld");
    let bad_script = format!("{dir}/bad_program.ld");
    let bins = Path::new(&dir).join("src").join("bin");
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rerun-if-changed={bad_script}");
    println!("cargo:rerun-if-changed={}", bins.display());
    if !target.starts_with("aarch64-unknown-none") {
        return;
    }
    let entries = std::fs::read_dir(&bins).expect("src/bin exists");
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let ld = if name == BAD_PROGRAM {
            &bad_script
        } else {
            &script
        };
        println!("cargo:rustc-link-arg-bin={name}=-T{ld}");
        println!("cargo:rustc-link-arg-bin={name}=-zmax-page-size=4096");
    }
}
