//! `cargo xtask sanitize`: boot programs under the coherency sanitizer (the QEMU plugin
//! in `tools/sanitizer-plugin`) and report, per run, the violations (which must be 0),
//! the maintenance issued, needed and wasted, and, for the GPU programs, whether the
//! image the device would have read from the modelled RAM equals QEMU's screen.
//!
//! Each run backs guest RAM with a shared file in `/dev/shm` (the plugin maps it to
//! read physical memory) and writes `target/xtask/sanitize/<run>/`: `report.json`,
//! `report.txt`, the would-have-read image `final.ppm` (and `.png`) and QEMU's
//! screendump.

use crate::build::{self, Built, Flavor};
use crate::demo::{self, Rgb};
use crate::qemu::Machine;
use crate::Result;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

/// The runs `cargo xtask sanitize` makes by default.
pub const RUNS: &[&str] = &["demo", "pipeline", "legacy", "legacy-race", "utests"];

/// How long a GPU program may take under the sanitizer.
const SCREEN_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the user test boot may take under the sanitizer.
const UTEST_TIMEOUT: Duration = Duration::from_secs(1200);

/// Build the plugin (release); returns the shared library.
pub fn plugin() -> Result<PathBuf> {
    let status = Command::new(crate::setup::cargo())
        .current_dir(build::root())
        .args(["build", "--release", "-p", "sanitizer-plugin"])
        .status()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !status.success() {
        return Err("building the sanitizer plugin failed".into());
    }
    Ok(build::root().join("target/release/libsanitizer_plugin.so"))
}

/// A run's output directory and RAM file (removed when dropped).
pub struct Session {
    /// `target/xtask/sanitize/<name>`.
    pub dir: PathBuf,
    ram: PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ram);
    }
}

impl Session {
    /// The plugin's JSON report.
    pub fn report(&self) -> Result<Value> {
        let path = self.dir.join("report.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("no sanitizer report ({}: {e})", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The would-have-read image of the last frame, if the run had one.
    pub fn final_image(&self) -> PathBuf {
        self.dir.join("final.ppm")
    }
}

pub fn no_comma(p: &Path) -> Result<String> {
    let s = p.display().to_string();
    if s.contains(',') {
        return Err(format!("{s}: QEMU option values cannot contain commas"));
    }
    Ok(s)
}

/// True if `/dev/shm` (memory) can hold a guest's RAM (containers often give it only
/// 64 MiB); otherwise the RAM file goes to disk, under `target/`.
fn shm_has_room() -> bool {
    let out = Command::new("df")
        .args(["--output=avail", "-B1", "/dev/shm"])
        .output();
    let avail = out.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse::<u64>().ok())
    });
    avail.is_some_and(|a| a >= 2 << 30)
}

/// Attach the sanitizer to `m`: RAM in a shared file, the plugin with the kernel's and
/// the user programs' symbols, the report (and with `images`, the frame images) in
/// `target/xtask/sanitize/<name>/`.
pub fn attach(
    m: &mut Machine,
    so: &Path,
    name: &str,
    kernel_elf: &Path,
    images: bool,
) -> Result<Session> {
    let dir = build::out_dir().join("sanitize").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ram_dir = if shm_has_room() {
        PathBuf::from("/dev/shm")
    } else {
        dir.clone()
    };
    let ram = ram_dir.join(format!("coherent-bufs-{}-{name}", std::process::id()));
    let user = build::root()
        .join("target")
        .join(build::TARGET)
        .join("user");
    let mut arg = format!(
        "{},ram={},kernel={},user={},report={}",
        no_comma(so)?,
        no_comma(&ram)?,
        no_comma(kernel_elf)?,
        no_comma(&user)?,
        no_comma(&dir.join("report.json"))?
    );
    if images {
        arg.push_str(&format!(",images={}", no_comma(&dir)?));
    }
    m.ram_file = Some(ram.clone());
    m.plugin = Some(arg);
    Ok(Session { dir, ram })
}

/// `0 violations; maintenance issued N line ops, needed N, waste N`.
pub fn summary(r: &Value) -> String {
    let m = &r["maintenance"];
    format!(
        "{} violations; maintenance issued {} line ops, needed {}, waste {}",
        r["violations"], m["issued"], m["needed"], m["waste"]
    )
}

/// The sanitizer's verdict on a finished run: its report exists, shows no violation and
/// no limit of the sanitizer's own, and (with a screendump) its would-have-read image
/// equals QEMU's screen. `Ok` carries the summary line.
pub fn verdict(s: &Session, screendump: Option<&Path>) -> std::result::Result<String, String> {
    let r = s.report()?;
    let text = std::fs::read_to_string(s.dir.join("report.txt")).unwrap_or_default();
    let mut problems = Vec::new();
    if r["violations"].as_u64() != Some(0) {
        problems.push(format!("{} coherency violations", r["violations"]));
    }
    let z = &r["sanitizer"];
    if z["walk_errors"].as_u64() != Some(0) || z["pa_mismatches"].as_u64() != Some(0) {
        problems.push(format!(
            "the sanitizer could not follow the guest: {} untranslatable addresses, {} mismatches",
            z["walk_errors"], z["pa_mismatches"]
        ));
    }
    if z["set_way_errors"].as_u64().is_some_and(|n| n > 0) {
        problems.push(format!(
            "{} set/way operands do not fit the sanitizer's cache geometry (the guest's \
             CCSIDR_EL1 differs from cachemodel::Geometry)",
            z["set_way_errors"]
        ));
    }
    if z["bus_errors"].as_array().is_some_and(|a| !a.is_empty()) {
        problems.push(format!("unreadable virtqueue chains: {}", z["bus_errors"]));
    }
    let mut line = summary(&r);
    if let Some(shot) = screendump {
        // A GPU program whose DMA the sanitizer did not see would pass vacuously (a
        // device on a transport it does not decode).
        if r["frames"]["transfers"].as_u64().unwrap_or(0) == 0 {
            problems.push(
                "the sanitizer saw no GPU transfer: is the GPU on a transport it decodes?".into(),
            );
        }
        match compare(&s.final_image(), shot) {
            Ok(()) => line.push_str("; would-have-read image equals the screendump"),
            Err(e) => problems.push(e),
        }
    }
    if problems.is_empty() {
        Ok(line)
    } else {
        Err(format!("{}\n{text}", problems.join("\n")))
    }
}

/// Compare the would-have-read image with QEMU's screendump.
pub fn compare(modelled: &Path, screendump: &Path) -> std::result::Result<(), String> {
    let a = Rgb::read_ppm(modelled).map_err(|e| format!("would-have-read image: {e}"))?;
    let b = Rgb::read_ppm(screendump).map_err(|e| format!("screendump: {e}"))?;
    if (a.width, a.height) != (b.width, b.height) {
        return Err(format!(
            "would-have-read image is {}x{}, the screen {}x{}",
            a.width, a.height, b.width, b.height
        ));
    }
    match demo::first_mismatch(&a, &b) {
        None => Ok(()),
        Some(((x, y), n)) => {
            let png = modelled.with_extension("png");
            let _ = a.write_png(&png);
            Err(format!(
                "the image the device would have read differs from the screen: {n} pixels, first \
                 at ({x}, {y}) ({} instead of {}); see {}",
                demo::hex(a.at(x, y)),
                demo::hex(b.at(x, y)),
                demo::shown(&png)
            ))
        }
    }
}

/// What to boot for one named run.
pub struct Plan {
    /// The machine (sanitizer not yet attached).
    pub machine: Machine,
    /// The kernel ELF it boots (symbols).
    pub elf: PathBuf,
    /// A GPU program whose final frame is compared with the modelled image.
    pub screen: bool,
    /// Extra plugin arguments (`,cost=on,...`).
    pub plugin_extra: String,
}

/// The kernels, initrd and disk the runs need.
pub struct Inputs {
    /// The normal kernel (demo, pipeline, legacy, user programs).
    pub normal: Built,
    /// The test kernel (user tests).
    pub test: Option<Built>,
    /// The initrd.
    pub initrd: PathBuf,
    /// The capture disk.
    pub disk: PathBuf,
}

/// The plan for run `name` (`demo`, `pipeline`, `legacy`, `legacy-race` on 4 CPUs, `utests`, or `init=PROGRAM`).
pub fn plan(name: &str, i: &Inputs, append: &str) -> Result<Plan> {
    let (kernel, line, screen, disk) = match name {
        "demo" => (&i.normal, demo::APPEND.to_string(), true, false),
        "pipeline" => (&i.normal, demo::PIPELINE_APPEND.to_string(), true, true),
        "legacy" => (
            &i.normal,
            "exit=semihosting init=legacy dma=noncoherent".into(),
            true,
            false,
        ),
        // On 4 CPUs (one modelled L1D each): a writer thread stores through a legacy
        // mapping on one CPU while another presents it, zapping and cleaning under it.
        "legacy-race" => (
            &i.normal,
            "exit=semihosting init=legacy_race dma=noncoherent".into(),
            true,
            false,
        ),
        "utests" => (
            i.test
                .as_ref()
                .ok_or("the user tests need the test kernel")?,
            "exit=semihosting dma=noncoherent utest=all".to_string(),
            false,
            true,
        ),
        other => match other.strip_prefix("init=") {
            // The `uci_*` programs exercise the EL0 option: their boot has `uci`.
            Some(prog) => (
                &i.normal,
                format!(
                    "exit=semihosting init={prog} dma=noncoherent{}",
                    if prog.starts_with("uci_") { " uci" } else { "" }
                ),
                false,
                true,
            ),
            None => {
                return Err(format!(
                    "unknown run {other:?} (runs: {RUNS:?} or init=PROGRAM)"
                ))
            }
        },
    };
    let mut m = Machine::new(&kernel.image);
    if name == "legacy-race" {
        m.smp = 4;
    }
    m.initrd = Some(i.initrd.clone());
    if disk {
        m.disk = Some(i.disk.clone());
    }
    m.append = format!("{line} {append}").trim().to_string();
    Ok(Plan {
        machine: m,
        elf: kernel.elf.clone(),
        screen,
        plugin_extra: String::new(),
    })
}

/// Boot one planned run under the sanitizer; the verdict (summary or why it failed).
pub fn run_one(
    name: &str,
    p: Plan,
    so: &Path,
    images_all: bool,
) -> Result<std::result::Result<String, String>> {
    let mut m = p.machine;
    let s = attach(&mut m, so, name, &p.elf, p.screen)?;
    if let Some(arg) = m.plugin.as_mut() {
        if images_all {
            arg.push_str(",images_all=on");
        }
        arg.push_str(&p.plugin_extra);
    }
    let (status, output, shot) = if p.screen {
        m.qmp = Some(s.dir.join("qmp.sock"));
        let ppm = s.dir.join("screendump.ppm");
        let run = demo::boot(&m, &ppm, false, SCREEN_TIMEOUT)?;
        (run.status, run.output, run.screendump.ok())
    } else {
        let o = m.run_captured(UTEST_TIMEOUT)?;
        (o.status, o.output, None)
    };
    let _ = std::fs::write(s.dir.join("serial.log"), &output);
    if status != Some(0) {
        let tail: Vec<&str> = output.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Ok(Err(format!(
            "QEMU {}\n{}",
            status.map_or("timed out".to_string(), |c| format!(
                "exited with status {c}"
            )),
            tail.join("\n")
        )));
    }
    if p.screen && shot.is_none() {
        return Ok(Err("no screendump of the final frame".into()));
    }
    Ok(verdict(&s, shot.as_deref()))
}

/// Options of `cargo xtask sanitize`.
pub struct Args {
    /// Runs to make (default [`RUNS`]).
    pub runs: Vec<String>,
    /// Extra kernel arguments.
    pub append: String,
    /// Write the would-have-read image of every flush, not only the last.
    pub images_all: bool,
    /// Run the memory-cost model beside the sanitizer.
    pub cost: bool,
    /// Its parameters, `KEY=VALUE`.
    pub cost_params: Vec<String>,
}

/// `cargo xtask sanitize`.
pub fn run(args: Args) -> Result<ExitCode> {
    let runs: Vec<String> = if args.runs.is_empty() {
        RUNS.iter().map(|s| s.to_string()).collect()
    } else {
        args.runs
    };
    let so = plugin()?;
    let needs_test = runs.iter().any(|r| r == "utests");
    let inputs = Inputs {
        normal: build::kernel(Flavor::Normal)?,
        test: if needs_test {
            Some(build::kernel(Flavor::Test)?)
        } else {
            None
        },
        initrd: build::initrd()?,
        disk: build::capture_disk()?,
    };
    let mut extra = String::new();
    if args.cost {
        extra.push_str(",cost=on");
        for kv in &args.cost_params {
            let key = kv.split_once('=').map_or("", |(k, _)| k);
            if !cachemodel::CostParams::KEYS.contains(&key) || kv.contains(',') {
                return Err(format!(
                    "--cost-param {kv}: expected KEY=VALUE with KEY one of {:?}",
                    cachemodel::CostParams::KEYS
                ));
            }
            extra.push(',');
            extra.push_str(kv);
        }
    }
    let mut failed = 0;
    let mut costs = Vec::new();
    for name in &runs {
        let mut p = plan(name, &inputs, &args.append)?;
        p.plugin_extra = extra.clone();
        let dir_name = name.replace('=', "-");
        println!("== sanitize {name}: {}", p.machine.append);
        let r = run_one(&dir_name, p, &so, args.images_all)?;
        let dir = build::out_dir().join("sanitize").join(&dir_name);
        if let Ok(text) = std::fs::read_to_string(dir.join("report.txt")) {
            let head: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("violation "))
                .collect();
            println!("{}", head.join("\n"));
        }
        match r {
            Ok(line) => println!("sanitize {name}: ok ({line})"),
            Err(why) => {
                failed += 1;
                println!(
                    "sanitize {name}: FAILED\n    {}",
                    why.replace('\n', "\n    ")
                );
            }
        }
        println!("    report: {}", demo::shown(&dir.join("report.txt")));
        if args.cost {
            let r = std::fs::read_to_string(dir.join("report.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok());
            if let Some(c) = r.map(|r| r["cost"].clone()).filter(|c| !c.is_null()) {
                costs.push((name.clone(), c));
            }
        }
    }
    if !costs.is_empty() {
        let table = crate::sanitize_cost::table(&costs);
        println!("{table}");
        let path = build::out_dir().join("sanitize").join("cost.md");
        std::fs::write(&path, &table).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("    cost table: {}", demo::shown(&path));
    }
    println!(
        "sanitize: {}/{} runs without violations",
        runs.len() - failed,
        runs.len()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
