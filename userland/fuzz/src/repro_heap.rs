//! Reproducers (part of `fuzz_repro`): the kernel heap in use comes back exactly to
//! where it was after any amount of use. The stateful fuzzer found the launcher's
//! baseline off after every run: the maintenance trace of test kernels grew its entry
//! vector (to 512 KiB) by infallible pushes from syscalls; the ready queue and the free
//! ASID list kept the room of the most tasks ever alive; the first `gpu_import` created
//! the fake-offset allocator, and the driver's resource table kept its root node after
//! its last resource. None of that is a task's to keep: the kernel now reserves the
//! first three at boot and lets the others go.
//!
//! The comparisons are exact. The frame allocator keeps its free lists (one B-tree per
//! block order) in the kernel heap, and a list used for the first time keeps a node
//! (`fuzz::snapshot`, `HEAP_SLACK`), so [`warm`] first allocates and frees frames in
//! every order these cases touch, and grows this task's own handle table (whose slots
//! a task keeps for its life, charged to it) to its full size.

use fuzz::urt::{self, format, policy, sync, Handle, Stat};

fn heap() -> u64 {
    urt::stats(Stat::HeapUsed).unwrap_or(0)
}

/// Frames of every order allocated and freed (a 64 MiB buffer), one task spawned and
/// ended, this task's handle table filled once; nothing of the GPU.
fn warm() {
    if let Ok(b) = urt::buffer_create(64 << 20, policy::CACHED) {
        let _ = urt::handle_close(b);
    }
    if let Ok(t) = urt::spawn("fuzz_victim", &[]) {
        let _ = urt::wait(t);
        let _ = urt::handle_close(t);
    }
    if let Ok((a, b)) = urt::channel_create() {
        let _ = fuzz::snapshot::free_slots(a);
        let _ = urt::handle_close(a);
        let _ = urt::handle_close(b);
    }
}

fn verdict(name: &str, before: u64, after: u64, bugs: &mut i32) {
    if before == after {
        urt::println!("repro {name}: ok (kernel heap {before} bytes before and after)");
    } else {
        *bugs += 1;
        urt::println!(
            "repro {name}: BUG: kernel heap {before} bytes before, {after} after ({:+})",
            after as i64 - before as i64
        );
    }
}

/// Run the heap cases; each adds one to `bugs` if the heap did not come back exactly.
pub fn cases(bugs: &mut i32) {
    // 10,000 maintenance operations recorded in the trace (more than it keeps), first:
    // before anything else here records in it. Only the syncs are measured.
    if let Ok(b) = urt::buffer_create(4096, policy::CACHED) {
        let _ = urt::trace_clear();
        let before = heap();
        for _ in 0..5000 {
            let _ = urt::buffer_sync(b, sync::START | sync::RW, 0, 0);
            let _ = urt::buffer_sync(b, sync::END | sync::RW, 0, 0);
        }
        let _ = urt::trace_clear();
        verdict("heap-after-trace", before, heap(), bugs);
        let _ = urt::handle_close(b);
    }

    warm();

    // 200 tasks alive at once (every one ready at once), then gone.
    let before = heap();
    let mut tasks = [Handle(0); 200];
    let mut n = 0;
    for t in tasks.iter_mut() {
        match urt::spawn("fuzz_victim", &[]) {
            Ok(h) => {
                *t = h;
                n += 1;
            }
            Err(_) => break,
        }
    }
    for &t in &tasks[..n] {
        let _ = urt::wait(t);
        let _ = urt::handle_close(t);
    }
    urt::println!("repro heap-after-tasks: {n} tasks spawned");
    verdict("heap-after-tasks", before, heap(), bugs);

    // The first GPU resources, imported and closed.
    let before = heap();
    if let Ok(b) = urt::buffer_create(64 * 64 * 4, policy::CACHED) {
        for _ in 0..2 {
            if let Ok(r) = urt::gpu_import(b, 64, 64, format::B8G8R8X8) {
                let _ = urt::handle_close(r);
            }
        }
        let _ = urt::handle_close(b);
    }
    verdict("heap-after-gpu-import", before, heap(), bugs);
}
