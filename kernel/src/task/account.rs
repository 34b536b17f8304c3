//! Accounts and quotas (the rules are `kobj::quota`; the numbers are here and in
//! SYSCALLS.md, "Quotas").
//!
//! One root account stands for all of user space; its limits keep a reserve of frames
//! and kernel heap that no task can touch, so that the kernel's own infallible
//! allocations always succeed. Every task has its own account, a child of its parent's
//! (a task started by the kernel: of the root), so a task and its descendants together
//! stay within the task's limits.
//!
//! Kernel heap use is charged per object at a documented size that is at least what the
//! object really takes from the buddy allocator (sizes rounded up to powers of two).

use abi::Error;
use alloc::sync::Arc;
use kobj::quota::{Account, Limits, RESOURCES};
use spin::Once;

pub use kobj::quota::Resource as R;

/// Kernel heap charged per task (its `Task`, name, maps, scheduler entries, and its
/// handle table at full size: 512 slot indices of 32 bytes).
pub const TASK_HEAP: u64 = 48 * 1024;
/// Kernel heap charged per thread beyond a task's first (its registers, state and a
/// parked sync).
pub const THREAD_HEAP: u64 = 1024;
/// Kernel heap charged per channel (both ends, the channel, two queues of 16).
pub const CHANNEL_HEAP: u64 = 4608;
/// Kernel heap charged per queued message (its bytes and handle vectors).
pub const MESSAGE_HEAP: u64 = 512;
/// Kernel heap charged per buffer object, plus [`BUFFER_HEAP_PER_PAGE`] per page.
const BUFFER_HEAP: u64 = 1024;
/// Kernel heap charged per page of a buffer (its frame list).
const BUFFER_HEAP_PER_PAGE: u64 = 16;
/// Kernel heap charged per mapping (direct or legacy), plus
/// [`LEGACY_HEAP_PER_PAGE`] per page of a legacy mapping (its per-page state).
const MAPPING_HEAP: u64 = 512;
/// Kernel heap charged per page of a legacy mapping.
const LEGACY_HEAP_PER_PAGE: u64 = 8;
/// Kernel heap charged per GPU resource.
pub const RESOURCE_HEAP: u64 = 1024;

/// Kernel heap charged for a mapping of `pages` pages (direct: `legacy` false).
pub fn mapping_heap(pages: u64, legacy: bool) -> u64 {
    MAPPING_HEAP
        + if legacy {
            pages * LEGACY_HEAP_PER_PAGE
        } else {
            0
        }
}

/// Frames charged for a buffer of `pages` pages: the pages, and the kernel window's
/// translation tables that map them (worst case: one per 2 MiB and two more).
pub fn buffer_frames(pages: u64) -> u64 {
    pages + pages.div_ceil(512) + 2
}

/// Kernel heap charged for a buffer of `pages` pages.
pub fn buffer_heap(pages: u64) -> u64 {
    BUFFER_HEAP + pages * BUFFER_HEAP_PER_PAGE
}

/// Frames no task can use: the kernel's own tables, device memory and heap growth.
const RESERVED_FRAMES: u64 = 4096;

/// Per-task limits (a task and its descendants) other than memory, which is bounded by
/// the root's: live tasks, channels, queued messages, GPU resources and their bytes.
/// Every task is under the root, so [`TASKS`] also bounds the live tasks of the kernel.
pub const TASKS: u64 = 256;
const CHANNELS: u64 = 16_384;
const MESSAGES: u64 = 16_384;
const GPU_RESOURCES: u64 = 256;
/// QEMU's virtio-gpu 2D resources live in host memory; 256 MiB of them per task tree.
const GPU_BYTES: u64 = 256 << 20;

static ROOT: Once<Arc<Account>> = Once::new();

/// The root's limits: all user memory that leaves the kernel its reserve.
fn root_limits() -> Limits {
    let (free_frames, _) = crate::memory::frames::counts();
    let frames = (free_frames as u64).saturating_sub(RESERVED_FRAMES);
    let heap = crate::memory::heap::user_share();
    let mut l = [0; RESOURCES];
    l[R::Frames as usize] = frames;
    l[R::HeapBytes as usize] = heap;
    l[R::Tasks as usize] = TASKS;
    l[R::Channels as usize] = CHANNELS;
    l[R::Messages as usize] = MESSAGES;
    l[R::GpuResources as usize] = GPU_RESOURCES;
    l[R::GpuBytes as usize] = GPU_BYTES;
    l
}

/// Set up the root account (after the frame allocator and heap, before any task).
pub fn init() {
    ROOT.call_once(|| Arc::new(Account::root(root_limits())));
}

/// The limits of the root account.
pub fn root() -> &'static Arc<Account> {
    ROOT.get().expect("account::init ran")
}

/// A new task's account, under `parent`'s (or the root's) and with the same limits:
/// a task tree shares its top task's quota.
pub fn for_new_task(parent: Option<&Arc<Account>>) -> Result<Arc<Account>, Error> {
    let parent = parent.unwrap_or_else(|| root());
    let limits = *parent.limits();
    let account = Account::child(parent, limits)?;
    Ok(Arc::new(account))
}
