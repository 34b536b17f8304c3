//! `cargo xtask mutants`: kernel mutation testing. Each line of `kernel/mutants.txt` is
//! a deliberate bug (a textual replacement in one file); each is applied in turn to a
//! scratch copy of the workspace (`target/mutants/ws`, which keeps its own `target/`
//! between runs), and the checks the line names run there (`cargo xtask check ...` in
//! the copy) until one fails: the mutant is caught. A mutant no check catches is a hole
//! in the evidence; a mutant that does not build is a broken list entry. Prints
//! `N/N caught` and writes `target/xtask/mutants/summary.md` (`--publish` also to
//! `tools/xtask/mutants-results.md`).
//!
//! List format, one mutant per line (`#` starts a comment line):
//! `file @@ pattern @@ replacement @@ checks @@ what it breaks` (fields trimmed); in
//! pattern and replacement `\n` is a newline and `\\` a backslash; the first occurrence
//! of the pattern is replaced (it must occur). Checks, comma-separated, run in order:
//! `utest:a+b` (user tests `a` and `b`, devices non-coherent; `smp4:a+b` the same on 4
//! CPUs; `smp4w:a+b` on 4 CPUs with the fast path's race window, `race-window`),
//! `coherent:a+b` (the coherent boot), `ktest` (the in-kernel tests),
//! `sanitize:RUN` (a run of `cargo xtask sanitize`), `host:CRATE` (`cargo test -p
//! CRATE`), `loom` (the buffer gate's loom model, `kobj/tests/gate_loom.rs`).

use crate::build::{self, Flavor};
use crate::qemu::Machine;
use crate::Result;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The list, relative to the workspace root.
pub const LIST: &str = "kernel/mutants.txt";
/// How long one user-test boot may take.
const UTEST_TIMEOUT: Duration = Duration::from_secs(300);

/// One mutant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mutant {
    /// File, relative to the root.
    pub file: String,
    /// Text replaced (first occurrence).
    pub pattern: String,
    /// Its replacement.
    pub replacement: String,
    /// Checks to run, in order.
    pub checks: Vec<String>,
    /// What it breaks.
    pub what: String,
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Parse the list.
pub fn parse(text: &str) -> Result<Vec<Mutant>> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split("@@").map(str::trim).collect();
        let [file, pattern, replacement, checks, what] = f[..] else {
            return Err(format!(
                "{LIST}:{}: expected 5 fields separated by @@, found {}",
                n + 1,
                f.len()
            ));
        };
        let checks: Vec<String> = checks
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if checks.is_empty() {
            return Err(format!("{LIST}:{}: no checks", n + 1));
        }
        out.push(Mutant {
            file: file.trim().into(),
            pattern: unescape(pattern),
            replacement: unescape(replacement),
            checks,
            what: what.trim().into(),
        });
    }
    Ok(out)
}

/// `text` with the mutant applied, or why it cannot be.
pub fn apply(text: &str, m: &Mutant) -> Result<String> {
    if !text.contains(&m.pattern) {
        return Err(format!("{}: pattern not found: {:?}", m.file, m.pattern));
    }
    Ok(text.replacen(&m.pattern, &m.replacement, 1))
}

/// Copy the workspace's sources into `dst` (everything but `target/` and `.git`).
fn copy_tree(src: &Path, dst: &Path, top: bool) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(|e| format!("{}: {e}", dst.display()))?;
    for e in std::fs::read_dir(src).map_err(|e| format!("{}: {e}", src.display()))? {
        let e = e.map_err(|e| e.to_string())?;
        let name = e.file_name();
        if top && (name == "target" || name == ".git") {
            continue;
        }
        let (from, to) = (e.path(), dst.join(&name));
        let ty = e.file_type().map_err(|e| e.to_string())?;
        if ty.is_dir() {
            copy_tree(&from, &to, false)?;
        } else if ty.is_file() {
            let same = std::fs::read(&to).ok() == std::fs::read(&from).ok();
            if !same {
                std::fs::copy(&from, &to).map_err(|e| format!("{}: {e}", to.display()))?;
            }
        }
    }
    Ok(())
}

/// Options of `cargo xtask mutants`.
pub struct Args {
    /// Only these mutants (1-based).
    pub only: Vec<usize>,
    /// Copy the summary to `tools/xtask/mutants-results.md`.
    pub publish: bool,
    /// Run these checks for every mutant instead of the list's (e.g. only the
    /// sanitizer, to see what it catches on its own).
    pub checks: Vec<String>,
}

/// `cargo xtask mutants`.
pub fn run(args: Args) -> Result<ExitCode> {
    let root = build::root();
    let list = std::fs::read_to_string(root.join(LIST)).map_err(|e| format!("{LIST}: {e}"))?;
    let mutants = parse(&list)?;
    // Every mutant must apply to the tree as it is.
    for m in &mutants {
        let text =
            std::fs::read_to_string(root.join(&m.file)).map_err(|e| format!("{}: {e}", m.file))?;
        apply(&text, m)?;
    }
    let ws = root.join("target/mutants/ws");
    println!(
        "== mutants: copying the workspace to {}",
        crate::demo::shown(&ws)
    );
    copy_tree(&root, &ws, true)?;
    let selected: Vec<(usize, &Mutant)> = mutants
        .iter()
        .enumerate()
        .map(|(i, m)| (i + 1, m))
        .filter(|(i, _)| args.only.is_empty() || args.only.contains(i))
        .collect();
    let mut rows = Vec::new();
    let mut caught = 0;
    for (i, m) in &selected {
        let start = Instant::now();
        let original = std::fs::read_to_string(root.join(&m.file)).map_err(|e| e.to_string())?;
        let path = ws.join(&m.file);
        std::fs::write(&path, apply(&original, m)?).map_err(|e| e.to_string())?;
        println!("== mutant {i}: {} ({})", m.what, m.file);
        let checks = if args.checks.is_empty() {
            &m.checks
        } else {
            &args.checks
        };
        let verdict = check_in(&ws, checks);
        std::fs::write(&path, &original).map_err(|e| e.to_string())?;
        let (ok, line) = match verdict {
            Ok(Some((check, why))) => (true, format!("caught by {check}: {why}")),
            Ok(None) => (false, "NOT CAUGHT".to_string()),
            Err(e) => (false, format!("BROKEN: {e}")),
        };
        if ok {
            caught += 1;
        }
        println!("mutant {i}: {line} ({:.0?})", start.elapsed());
        rows.push((i, m, line));
    }
    let total = selected.len();
    println!("{caught}/{total} caught");
    let mut md = String::from(
        "# Kernel mutants\n\nEach row is a deliberate bug from `kernel/mutants.txt`, applied \
         alone to a copy of the workspace by `cargo xtask mutants`, and the first of its \
         checks that failed.\n\n| # | file | what it breaks | caught by |\n|---:|---|---|---|\n",
    );
    for (i, m, line) in &rows {
        let cell = line.replace('|', "\\|").replace('\n', " ");
        md.push_str(&format!("| {i} | `{}` | {} | {cell} |\n", m.file, m.what));
    }
    md.push_str(&format!("\n**{caught}/{total} caught.**\n"));
    let out = build::out_dir().join("mutants");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let name = if args.checks.is_empty() {
        "summary.md".to_string()
    } else {
        format!(
            "summary-{}.md",
            args.checks.join("-").replace([':', '+', '='], "_")
        )
    };
    std::fs::write(out.join(&name), &md).map_err(|e| e.to_string())?;
    println!("summary: {}", crate::demo::shown(&out.join(&name)));
    if args.publish && args.only.is_empty() && args.checks.is_empty() {
        let dst = root.join("tools/xtask/mutants-results.md");
        std::fs::write(&dst, &md).map_err(|e| e.to_string())?;
        println!("published {}", crate::demo::shown(&dst));
    }
    Ok(if caught == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Run `cargo xtask check CHECKS` in the copy: the first check that failed and why, or
/// `None` if all passed; `Err` if the mutant could not be built.
fn check_in(ws: &Path, checks: &[String]) -> Result<Option<(String, String)>> {
    let out = Command::new(crate::setup::cargo())
        .current_dir(ws)
        .args(["xtask", "check"])
        .args(checks)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("running cargo xtask check: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("check-failed ") {
            let (check, why) = rest.split_once(": ").unwrap_or((rest, ""));
            return Ok(Some((check.to_string(), why.to_string())));
        }
        if let Some(rest) = line.strip_prefix("check-broken ") {
            return Err(rest.to_string());
        }
    }
    if out.status.success() {
        Ok(None)
    } else {
        Err(format!("cargo xtask check exited with {}", out.status))
    }
}

/// The first lines that say why a user-test boot failed.
fn utest_failure(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("FAIL") || l.contains("PANIC") || l.contains("killed"))
        .take(3)
        .collect();
    if lines.is_empty() {
        "the boot failed".into()
    } else {
        lines.join(" / ")
    }
}

/// The first violation of a sanitizer report, in one line.
fn first_violation(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("report.txt")).unwrap_or_default();
    let mut out: Vec<String> = text.lines().take(1).map(str::to_string).collect();
    if let Some(at) = text.find("violation 1:") {
        out.extend(text[at..].lines().take(5).map(|l| l.trim().to_string()));
    }
    out.join(" / ")
}

/// `cargo xtask check CHECKS`: run each check; print `check-failed CHECK: why` for the
/// first that fails (and stop), `check-broken why` if something could not be built.
pub fn check(checks: &[String]) -> Result<ExitCode> {
    let mut test_kernel = None;
    let mut inputs: Option<crate::sanitize::Inputs> = None;
    for c in checks {
        let (kind, arg) = c.split_once(':').unwrap_or((c.as_str(), ""));
        let result: std::result::Result<(), String> = match kind {
            "utest" | "coherent" | "ktest" | "smp4" | "smp4w" | "uci" => {
                if test_kernel.is_none() {
                    match build::kernel(Flavor::Test) {
                        Ok(k) => test_kernel = Some(k),
                        Err(e) => return broken(&e),
                    }
                }
                let k = test_kernel.as_ref().expect("built");
                let mut m = Machine::new(&k.image);
                if kind.starts_with("smp4") {
                    m.smp = 4;
                }
                let append = match kind {
                    "ktest" => "exit=semihosting ktest=all expect-el=1".to_string(),
                    "utest" | "smp4" => format!(
                        "exit=semihosting dma=noncoherent utest={}",
                        arg.replace('+', ",")
                    ),
                    "smp4w" => format!(
                        "{} utest={}",
                        crate::smp_cases::RACE_WINDOW_APPEND,
                        arg.replace('+', ",")
                    ),
                    "uci" => format!(
                        "exit=semihosting dma=noncoherent uci utest={}",
                        arg.replace('+', ",")
                    ),
                    _ => format!(
                        "exit=semihosting misuse=report utest={}",
                        arg.replace('+', ",")
                    ),
                };
                if kind != "ktest" {
                    match (build::initrd(), build::capture_disk()) {
                        (Ok(i), Ok(d)) => {
                            m.initrd = Some(i);
                            m.disk = Some(d);
                        }
                        (Err(e), _) | (_, Err(e)) => return broken(&e),
                    }
                }
                m.append = append;
                let o = m.run_captured(UTEST_TIMEOUT)?;
                let summary = if kind == "ktest" {
                    "ktest summary:"
                } else {
                    "utest summary:"
                };
                if o.status == Some(0) && o.output.contains(summary) {
                    Ok(())
                } else {
                    Err(utest_failure(&o.output))
                }
            }
            "sanitize" => {
                if inputs.is_none() {
                    let built = (|| -> Result<crate::sanitize::Inputs> {
                        Ok(crate::sanitize::Inputs {
                            normal: build::kernel(Flavor::Normal)?,
                            test: if arg == "utests" {
                                Some(build::kernel(Flavor::Test)?)
                            } else {
                                None
                            },
                            initrd: build::initrd()?,
                            disk: build::capture_disk()?,
                        })
                    })();
                    match built {
                        Ok(i) => inputs = Some(i),
                        Err(e) => return broken(&e),
                    }
                }
                let i = inputs.as_mut().expect("built");
                if arg == "utests" && i.test.is_none() {
                    match build::kernel(Flavor::Test) {
                        Ok(k) => i.test = Some(k),
                        Err(e) => return broken(&e),
                    }
                }
                let so = match crate::sanitize::plugin() {
                    Ok(so) => so,
                    Err(e) => return broken(&e),
                };
                let plan = crate::sanitize::plan(arg, inputs.as_ref().expect("built"), "")?;
                let dir_name = format!("check-{}", arg.replace('=', "-"));
                let dir = build::out_dir().join("sanitize").join(&dir_name);
                match crate::sanitize::run_one(&dir_name, plan, &so, false)? {
                    Ok(_) => Ok(()),
                    Err(why) => {
                        let found = std::fs::read_to_string(dir.join("report.json"))
                            .ok()
                            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                            .and_then(|r| r["violations"].as_u64())
                            .unwrap_or(0);
                        if found > 0 {
                            Err(format!("the sanitizer found it: {}", first_violation(&dir)))
                        } else {
                            let first = why.lines().next().unwrap_or("").to_string();
                            Err(format!("the program failed, no violation ({first})"))
                        }
                    }
                }
            }
            "loom" => match crate::test::run_loom_model()? {
                Ok(()) => Ok(()),
                Err(out) => {
                    let failed: Vec<&str> = out.lines().filter(|l| l.ends_with("FAILED")).collect();
                    Err(format!(
                        "the gate's loom model failed: {}",
                        failed.join(", ")
                    ))
                }
            },
            "host" => {
                let status = Command::new(crate::setup::cargo())
                    .current_dir(build::root())
                    .args(["test", "-q", "-p", arg])
                    .stdout(Stdio::null())
                    .status()
                    .map_err(|e| e.to_string())?;
                if status.success() {
                    Ok(())
                } else {
                    Err(format!("cargo test -p {arg} failed"))
                }
            }
            other => return Err(format!("unknown check {other:?}")),
        };
        match result {
            Ok(()) => println!("check-passed {c}"),
            Err(why) => {
                println!("check-failed {c}: {}", why.replace('\n', " / "));
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn broken(why: &str) -> Result<ExitCode> {
    println!("check-broken {}", why.replace('\n', " / "));
    Ok(ExitCode::FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_parses_and_applies() {
        let m = parse("# c\n\na.rs @@ x\\ny @@ z\\\\n @@ utest:t+u, sanitize:demo @@ breaks\n")
            .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].pattern, "x\ny");
        assert_eq!(m[0].replacement, "z\\n");
        assert_eq!(m[0].checks, vec!["utest:t+u", "sanitize:demo"]);
        assert_eq!(apply("ax\nyx\ny", &m[0]).unwrap(), "az\\nx\ny");
        assert!(apply("nothing", &m[0]).is_err());
        assert!(parse("a @@ b @@ c").is_err());
        assert!(parse("a @@ b @@ c @@  @@ d").is_err(), "no checks");
        assert_eq!(parse("a @@ b @@ @@ ktest @@ d").unwrap()[0].replacement, "");
    }

    #[test]
    fn the_repository_list_applies_to_the_tree() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let list = std::fs::read_to_string(root.join(LIST)).unwrap();
        let mutants = parse(&list).unwrap();
        assert!(mutants.len() >= 20);
        for m in &mutants {
            let text = std::fs::read_to_string(root.join(&m.file)).unwrap();
            let mutated = apply(&text, m).unwrap();
            assert_ne!(mutated, text, "{}", m.what);
        }
    }
}
