//! Links user programs with `userland/user.ld` when building for the bare-metal target.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let script = format!("{dir}/../user.ld");
    println!("cargo:rerun-if-changed={script}");
    if target.starts_with("aarch64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{script}");
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    }
}
