//! What the kernel runs once it is up: the `init` program (normal boots), or every user
//! test program in turn (bootargs `utest=all`), each with a timeout, reporting one line
//! per test and a summary, as `cargo xtask test` expects.

use super::Kernel;
use crate::power::{self, ExitCode};
use abi::ExitHow;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

/// A user test that has not ended after this many ticks (60 s) is killed and failed.
const TEST_TIMEOUT_TICKS: u64 = 6000;
/// The "exception class" a timed-out test is killed with (no real EC is 0xff).
const TIMEOUT_CODE: u64 = 0xff;

/// The harness mode.
pub enum Harness {
    /// Run one program; power off when it ends (non-zero exit = failure).
    Init {
        /// Program name.
        program: String,
        /// Its task id once started.
        id: Option<u32>,
    },
    /// Run each test program in turn.
    Tests {
        /// Not yet started.
        queue: VecDeque<String>,
        /// Running test: id, name, deadline tick.
        running: Option<(u32, u64)>,
        /// Results so far.
        passed: u32,
        /// Results so far.
        failed: u32,
    },
}

impl Harness {
    /// Run every initrd program whose name starts with `test_` (or the comma-separated
    /// list in `selection` unless it is `all`).
    pub fn tests(selection: &str) -> Self {
        let mut queue: Vec<String> = Vec::new();
        if selection == "all" {
            super::initrd::for_each_name(|n| {
                if n.starts_with("test_") {
                    queue.push(n.into());
                }
            });
            queue.sort();
        } else {
            queue.extend(
                selection
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            );
        }
        Harness::Tests {
            queue: queue.into(),
            running: None,
            passed: 0,
            failed: 0,
        }
    }
}

/// Start the first program.
pub fn start(k: &mut Kernel) {
    match &mut k.harness {
        Harness::Init { program, .. } => {
            let program = program.clone();
            match k.spawn(&program, Vec::new(), None) {
                Ok(obj) => {
                    log::info!("started '{program}' as task {}", obj.id);
                    if let Harness::Init { id, .. } = &mut k.harness {
                        *id = Some(obj.id);
                    }
                }
                Err(e) => {
                    crate::kprintln!("cannot start '{program}': {e}");
                    power::fail(ExitCode::BootError)
                }
            }
        }
        Harness::Tests { .. } => next_test(k),
    }
}

fn next_test(k: &mut Kernel) {
    loop {
        let Harness::Tests {
            queue,
            passed,
            failed,
            ..
        } = &mut k.harness
        else {
            return;
        };
        let Some(name) = queue.pop_front() else {
            let (p, f) = (*passed, *failed);
            crate::kprintln!("utest summary: {p} passed, {f} failed");
            if f == 0 {
                power::power_off()
            }
            power::fail(ExitCode::TestFailure)
        };
        match k.spawn(&name, Vec::new(), None) {
            Ok(obj) => {
                let deadline = crate::irq::ticks() + TEST_TIMEOUT_TICKS;
                if let Harness::Tests { running, .. } = &mut k.harness {
                    *running = Some((obj.id, deadline));
                }
                return;
            }
            Err(e) => {
                crate::kprintln!("utest {name} ... FAILED: cannot spawn: {e}");
                if let Harness::Tests { failed, .. } = &mut k.harness {
                    *failed += 1;
                }
            }
        }
    }
}

/// A task ended.
pub fn on_task_end(k: &mut Kernel, id: u32, name: &str, (code, how): (u64, ExitHow)) {
    match &mut k.harness {
        Harness::Init { id: Some(init), .. } if *init == id => {
            log::info!("'{name}' exited: {how:?} with code {code}");
            if crate::smp::online() > 1 {
                log::info!("scheduled: {}", super::SwitchReport(k));
            }
            if how == ExitHow::Exited && code == 0 {
                power::power_off()
            }
            power::fail(ExitCode::TestFailure)
        }
        Harness::Tests {
            running: Some((test, _)),
            passed,
            failed,
            ..
        } if *test == id => {
            match (how, code) {
                (ExitHow::Exited, 0) => {
                    *passed += 1;
                    crate::kprintln!("utest {name} ... ok");
                }
                (ExitHow::Exited, c) => {
                    *failed += 1;
                    crate::kprintln!("utest {name} ... FAILED: exit code {c}");
                }
                (ExitHow::Killed, TIMEOUT_CODE) => {
                    *failed += 1;
                    crate::kprintln!(
                        "utest {name} ... FAILED: timed out after {TEST_TIMEOUT_TICKS} ticks"
                    );
                }
                (ExitHow::Killed, ec) => {
                    *failed += 1;
                    crate::kprintln!("utest {name} ... FAILED: killed (exception class {ec:#x})");
                }
            }
            if let Harness::Tests { running, .. } = &mut k.harness {
                *running = None;
            }
            next_test(k);
        }
        _ => {}
    }
}

/// Kill a test that ran past its deadline.
pub fn on_tick(k: &mut Kernel, now: u64) {
    if let Harness::Tests {
        running: Some((id, deadline)),
        ..
    } = k.harness
    {
        if now >= deadline {
            let name = k.task(id).map(|t| t.name.clone()).unwrap_or_default();
            crate::kprintln!(
                "utest {name}: timed out after {TEST_TIMEOUT_TICKS} ticks, killing it"
            );
            k.destroy(id, (TIMEOUT_CODE, ExitHow::Killed));
        }
    }
}
