//! `cargo xtask test`'s cases for the EL0 option of END (`uci`) under the coherency
//! sanitizer: the `uci_san_*` programs (`userland/utests/src/cases/uci_writer.rs`) run as
//! `init` on a kernel booted with `dma=noncoherent uci`, and the sanitizer watches the
//! GPU read what they ENDed with `USER_CLEANED`.
//!
//! - `uci_san_honest` (`DC CVAC` at EL0, `DSB SY`, END): no violation;
//! - `uci_san_nodsb` (`DC CVAC` at EL0 without the task's `DSB`): no violation, because
//!   the kernel's `DSB` at the END completes them (remove it and the device reads lines
//!   whose clean is still pending);
//! - `uci_san_liar` (no clean, END says there was one): the sanitizer reports lost
//!   writes, the device reading the task's own dirty lines. So its silence on the other
//!   two is not blindness to EL0's lines.

use crate::qemu::Machine;
use crate::test::Tally;
use crate::Result;
use std::path::Path;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(180);

/// Run the three programs under the sanitizer on `base` (the test kernel, `elf` its
/// symbols) with `initrd`.
pub fn run(tally: &mut Tally, base: &Machine, elf: &Path, initrd: &Path, so: &Path) -> Result<()> {
    for (prog, honest) in [
        ("uci_san_honest", true),
        ("uci_san_nodsb", true),
        ("uci_san_liar", false),
    ] {
        let mut m = base.clone();
        m.initrd = Some(initrd.to_path_buf());
        m.append = format!("exit=semihosting init={prog} dma=noncoherent uci");
        let san = crate::sanitize::attach(&mut m, so, &format!("test-{prog}"), elf, false)?;
        let o = m.run_captured(TIMEOUT)?;
        let _ = std::fs::write(san.dir.join("serial.log"), &o.output);
        let name = format!("qemu/sanitize-{}", prog.replace('_', "-"));
        let ran = crate::test::check(&o, Some(0), &["hand-overs presented"]);
        let result = ran.and_then(|()| {
            if honest {
                crate::sanitize::verdict(&san, None).map(|_| ())
            } else {
                let r = san.report()?;
                let lost = r["by_kind"]["lost write"].as_u64().unwrap_or(0);
                if lost > 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "the sanitizer saw no lost write from a task that lied about its \
                         clean: {}",
                        crate::sanitize::summary(&r)
                    ))
                }
            }
        });
        tally.record(&name, result);
    }
    Ok(())
}
