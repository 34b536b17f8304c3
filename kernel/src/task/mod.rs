//! Tasks: EL0 programs in their own address spaces, their handle tables, their threads,
//! and the preemptive round-robin scheduler over every CPU.
//!
//! A task is an address space with handles, mappings and an account; it runs as one or
//! more *threads* (`thread_create`), each with its own registers and scheduling state,
//! which the scheduler places on any CPU. All of this is behind one lock, taken with
//! IRQs masked on kernel entry and released on exit (or to wait for an interrupt),
//! except each task's handles and open CPU accesses ([`Core`]), which have their own
//! lock so the syscall fast path can use them without the kernel lock (`smp`'s "Locks
//! and their order").
//!
//! The kernel never blocks inside itself: an exception from EL0 saves the thread's
//! registers as a `TrapFrame` on this CPU's kernel stack, the kernel acts on it, and on
//! the way out [`reschedule`] may swap in another thread's saved frame (and its task's
//! TTBR0) before `eret`. A syscall that must wait marks its thread blocked; the waker
//! either fills in the result (sleep) or makes the thread re-issue the `svc` (wait,
//! receive), so no kernel state lives across a block.

pub mod account;
pub mod harness;
pub mod initrd;
mod loader;
pub mod object;
pub mod space;

use crate::arch::exception::{Syndrome, TrapFrame};
use crate::buffer::Buffer;
use abi::{Error, ExitHow, Rights};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use arrayvec::ArrayVec;
use coherency::CpuAccess;
use core::sync::atomic::{AtomicBool, Ordering};
use kobj::vrange::RangeAllocator;
use kobj::HandleTable;
use object::{Object, TaskObj};
use platform::board::MAX_CPUS;
use space::AddressSpace;
use spin::{Mutex, MutexGuard};

/// Ticks a task runs before it is preempted in favour of a ready one.
const SLICE_TICKS: u64 = 2;

/// Why a task is not runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// Until the tick count reaches this value; then `sleep` returns 0.
    Sleep(u64),
    /// Until task `id` ends; then the `wait` is re-issued.
    Wait(u32),
    /// Until the channel with this key changes; then the `recv` is re-issued.
    Recv(usize),
    /// Until the device completes `fence`; then the call (a `buffer_sync` START) is
    /// re-issued.
    Fence(u64),
    /// `fence_wait`: until `fence` completes (x0 = 0, or DeviceError if it failed) or the
    /// tick count reaches `deadline` (x0 = TimedOut).
    FenceWait {
        /// The fence.
        fence: u64,
        /// Tick deadline.
        deadline: u64,
    },
}

impl Block {
    /// True if the blocked call is re-issued when woken; false if the waker writes its
    /// result.
    pub fn restarts(self) -> bool {
        !matches!(self, Block::Sleep(_) | Block::FenceWait { .. })
    }
}

/// Scheduling state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// In the ready queue.
    Ready,
    /// On the CPU.
    Running,
    /// Waiting.
    Blocked(Block),
}

/// A thread: the registers and scheduling state of one flow of control in a task.
pub struct Thread {
    /// Thread id, unique among tasks and threads (a task's first thread has its id).
    pub tid: u32,
    /// Scheduling state.
    pub state: State,
    /// Saved EL0 registers while not running.
    pub frame: TrapFrame,
    /// A sync interrupted between two maintenance steps; its `svc` is re-issued.
    pub parked: Option<crate::syscall::Parked>,
    /// Shared with holders of this thread's handle.
    pub obj: Arc<object::ThreadObj>,
    /// Its kernel heap (none for a task's first thread, which the task's charge covers).
    _charge: Option<kobj::quota::Charge>,
}

/// A task.
pub struct Task {
    /// Program name.
    pub name: String,
    /// Its threads, the first first; a task ends with its last thread.
    pub threads: ArrayVec<Thread, { abi::limits::MAX_THREADS }>,
    /// Address space.
    pub space: AddressSpace,
    /// Its handles and open CPU accesses, behind their own lock (the syscall fast path
    /// reaches them without the kernel lock; see [`Core`]).
    pub core: Arc<Core>,
    /// Shared with holders of this task's handle.
    pub obj: Arc<TaskObj>,
    /// Direct buffer mappings: user address -> (buffer, size).
    pub mappings: BTreeMap<u64, Arc<Buffer>>,
    /// Free user addresses for buffer mappings.
    pub map_window: RangeAllocator,
    /// Legacy (forwarded) mappings: user address -> mapping.
    pub legacy: BTreeMap<u64, crate::buffer::legacy::LegacyMap>,
    /// What the task and its descendants are charged to.
    pub account: Arc<kobj::quota::Account>,
    /// The task itself: one of the account's tasks, and its kernel heap.
    _charges: [kobj::quota::Charge; 2],
    /// Kernel heap of its mappings ([`account::mapping_heap`] each).
    pub map_heap: kobj::quota::Charge,
    /// Ended (by an exit, a fault or the harness) while one of its threads ran on
    /// another CPU: every CPU running one stops it when it next enters the kernel, and
    /// the last one ends the task with this status.
    pub kill_pending: Option<(u64, ExitHow)>,
}

/// The part of a task the syscall fast path uses: its handle table and its open CPU
/// accesses, behind the task's own lock ([`Core::objects`]), and whether it is ending.
///
/// Shared (`Arc`) between the task and, as a plain pointer, each CPU running one of
/// its threads (`smp::PerCpu::fast_task`): the task is only freed once no CPU runs one
/// of its threads (`Kernel::destroy`), so that pointer never dangles.
#[repr(C)]
pub struct Core {
    /// First (`repr(C)`): the hand-written fast START finds the lock at the `Core`'s
    /// address (`syscall::fast_start`).
    objects: Mutex<Objects>,
    /// The task is ending (`Task::kill_pending` is set): the fast path stands aside so
    /// the full path stops the thread.
    pub ending: AtomicBool,
}

/// What [`Core`]'s lock guards.
pub struct Objects {
    /// Handles.
    pub handles: HandleTable<Object>,
    /// Open CPU accesses (START without END): at most 16 buffers at once, searched
    /// linearly (no allocation on the sync path).
    pub cpu_access: CpuAccessSlots,
}

/// A task's open CPU accesses ([`Objects::cpu_access`]).
pub type CpuAccessSlots = ArrayVec<(Arc<Buffer>, CpuAccess), OPEN_ACCESSES>;
/// How many buffers a task may have a START open on at once.
pub const OPEN_ACCESSES: usize = 16;

impl Core {
    /// Where the lock over the task's handles and open accesses is, in bytes from the
    /// `Core`'s start (for `syscall::fast_start`, which reads them in place).
    pub const OBJECTS_OFFSET: usize = core::mem::offset_of!(Core, objects);
    /// Where [`Core::ending`] is.
    pub const ENDING_OFFSET: usize = core::mem::offset_of!(Core, ending);

    /// The task's handles and open accesses. Lock order: after the kernel lock (if
    /// held), before any buffer's; one task's at a time (a task being built is not yet
    /// anyone's to lock).
    pub fn objects(&self) -> MutexGuard<'_, Objects> {
        self.objects.lock()
    }
}

impl Task {
    /// Its handles and open accesses ([`Core::objects`]).
    pub fn objects(&self) -> MutexGuard<'_, Objects> {
        self.core.objects()
    }

    /// Thread `tid` of this task.
    pub fn thread_mut(&mut self, tid: u32) -> Option<&mut Thread> {
        self.threads.iter_mut().find(|t| t.tid == tid)
    }

    /// Direct and legacy mappings together (at most `limits::MAX_MAPPINGS`).
    pub fn mapping_count(&self) -> usize {
        self.mappings.len() + self.legacy.len()
    }
}

/// All kernel scheduling state, behind one lock.
pub struct Kernel {
    /// Boxed: a task with its threads is several KiB, too big for the B-tree's nodes
    /// (and for moving through the kernel stack).
    tasks: BTreeMap<u32, alloc::boxed::Box<Task>>,
    /// Ready threads, as (task id, thread id).
    ready: VecDeque<(u32, u32)>,
    next_id: u32,
    asids: Asids,
    /// Each CPU's scheduling state (by `smp::this_cpu().index`).
    cpus: [CpuSched; MAX_CPUS],
    /// What the kernel runs: init, or the user test sequence.
    pub harness: harness::Harness,
}

/// One CPU's part of the scheduler.
#[derive(Clone, Copy)]
struct CpuSched {
    /// The thread it runs, as (task id, thread id).
    current: Option<(u32, u32)>,
    /// Ticks of the current task's slice used.
    slice_used: u64,
    /// The current task may have to give up the CPU (it blocked or yielded, or a tick
    /// happened): the next exit from the kernel runs the scheduler's slow path.
    resched: bool,
    /// Waiting in WFI for a task (another CPU that readies one sends it an SGI).
    idle: bool,
    /// Tasks switched in on this CPU since boot.
    switches: u64,
    /// The current thread's task's [`Core`] (null without one).
    core: *const Core,
    /// The current thread has parked work (`Thread::parked`): its next `svc` carries it
    /// on, on the full path.
    parked: bool,
}

// SAFETY: `core` is a plain pointer to a task's `Core`, which is `Sync` (a lock and an
// atomic); it is only dereferenced by the CPU it belongs to (`with_current_fast`), under
// the lifetime rule written there. Moving the record between CPUs (it lives in the
// kernel-wide `Kernel`) moves no ownership.
unsafe impl Send for CpuSched {}

impl Default for CpuSched {
    fn default() -> Self {
        CpuSched {
            current: None,
            slice_used: 0,
            resched: false,
            idle: false,
            switches: 0,
            core: core::ptr::null(),
            parked: false,
        }
    }
}

/// "task switches per CPU" for the log: `CPU 0: n, CPU 1: m, ...` of the online CPUs.
pub struct SwitchReport<'k>(pub &'k Kernel);

impl core::fmt::Display for SwitchReport<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("task switches by CPU")?;
        for (i, c) in self.0.cpus.iter().enumerate().take(crate::smp::online()) {
            write!(f, "{} {i}: {}", if i == 0 { "" } else { "," }, c.switches)?;
        }
        Ok(())
    }
}

/// This CPU's index (its slot in `Kernel::cpus`).
fn cpu() -> usize {
    crate::smp::this_cpu().index
}

static KERNEL: Mutex<Option<Kernel>> = Mutex::new(None);

type Guard = MutexGuard<'static, Option<Kernel>>;

/// ASIDs 1..=65535, recycled; ASID 0 is never given to a task.
struct Asids {
    next: u16,
    free: Vec<u16>,
}

impl Asids {
    fn alloc(&mut self) -> Option<u16> {
        if let Some(a) = self.free.pop() {
            return Some(a);
        }
        if self.next == 0 {
            return None;
        }
        let a = self.next;
        self.next = self.next.wrapping_add(1);
        Some(a)
    }
}

impl Kernel {
    /// The id of the task whose thread runs on this CPU.
    pub fn current_id(&self) -> Option<u32> {
        self.cpus[cpu()].current.map(|(task, _)| task)
    }

    /// The id of the thread running on this CPU.
    pub fn current_tid(&self) -> Option<u32> {
        self.cpus[cpu()].current.map(|(_, tid)| tid)
    }

    /// The thread running on this CPU.
    pub fn current_thread_mut(&mut self) -> Option<&mut Thread> {
        let (task, tid) = self.cpus[cpu()].current?;
        self.tasks.get_mut(&task)?.thread_mut(tid)
    }

    /// Park `p` on the thread running here: its re-issued `svc` carries it on.
    pub fn park_current(&mut self, p: crate::syscall::Parked) -> Result<(), Error> {
        self.current_thread_mut().ok_or(Error::BadHandle)?.parked = Some(p);
        self.cpus[cpu()].parked = true;
        Ok(())
    }

    /// The work parked on the thread running here, if any (taken: the caller runs it).
    pub fn take_parked(&mut self) -> Option<crate::syscall::Parked> {
        self.cpus[cpu()].parked = false;
        self.current_thread_mut().and_then(|t| t.parked.take())
    }

    /// Make thread `tid` of task `task` ready and tell the other CPUs (an idle one picks
    /// it up).
    fn make_ready(&mut self, task: u32, tid: u32) {
        self.ready.push_back((task, tid));
        if self.cpus.iter().any(|c| c.idle) {
            crate::irq::kick_others();
        }
    }

    /// A new thread of task `id` at `entry` with `x0 = arg` on the stack below
    /// `stack_top`, ready to run. `TableFull` at `MAX_THREADS` threads, `NoMemory` past
    /// the kernel-heap quota.
    pub fn thread_create(
        &mut self,
        id: u32,
        entry: u64,
        stack_top: u64,
        arg: u64,
    ) -> Result<Arc<object::ThreadObj>, Error> {
        let tid = self.next_id;
        let t = self.tasks.get_mut(&id).ok_or(Error::BadHandle)?;
        if t.threads.is_full() {
            return Err(Error::TableFull);
        }
        let charge = t
            .account
            .charge(account::R::HeapBytes, account::THREAD_HEAP)?;
        let mut frame = TrapFrame {
            x: [0; 31],
            sp_el0: stack_top,
            elr: entry,
            spsr: 0,
        };
        frame.x[0] = arg;
        let obj = Arc::new(object::ThreadObj {
            tid,
            status: Mutex::new(None),
        });
        t.threads.push(Thread {
            tid,
            state: State::Ready,
            frame,
            parked: None,
            obj: obj.clone(),
            _charge: Some(charge),
        });
        self.next_id += 1;
        self.make_ready(id, tid);
        Ok(obj)
    }

    /// End the calling thread with `code`; its task ends with it if it was the last.
    pub fn thread_exit(&mut self, code: u64) {
        let Some((id, tid)) = self.cpus[cpu()].current else {
            return;
        };
        let last = self.tasks.get(&id).is_none_or(|t| t.threads.len() <= 1);
        if last {
            self.destroy(id, (code, ExitHow::Exited));
            return;
        }
        if let Some(t) = self.tasks.get_mut(&id) {
            if let Some(i) = t.threads.iter().position(|th| th.tid == tid) {
                let th = t.threads.remove(i);
                *th.obj.status.lock() = Some((code, ExitHow::Exited));
            }
        }
        self.cpus[cpu()].current = None;
        self.cpus[cpu()].resched = true;
        self.wake_where(|b| b == Block::Wait(tid));
    }

    /// A task by id.
    pub fn task(&self, id: u32) -> Option<&Task> {
        self.tasks.get(&id).map(|t| &**t)
    }

    /// A task by id, mutably.
    pub fn task_mut(&mut self, id: u32) -> Option<&mut Task> {
        self.tasks.get_mut(&id).map(|t| &mut **t)
    }

    /// Run `f` on every live task with its id.
    pub fn for_each_task_with_id(&mut self, mut f: impl FnMut(u32, &mut Task)) {
        for (&id, t) in self.tasks.iter_mut() {
            f(id, t);
        }
    }

    /// Run `f` on every live task.
    pub fn for_each_task_mut(&mut self, mut f: impl FnMut(&mut Task)) {
        for t in self.tasks.values_mut() {
            f(t);
        }
    }

    /// Number of live tasks.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Create a task running program `name` with `handles` installed in slots 0.. and
    /// passed in x1..x4 (x0 = count). Returns its id and shared object.
    pub fn spawn(
        &mut self,
        name: &str,
        handles: Vec<(Object, Rights)>,
        parent: Option<&Arc<kobj::quota::Account>>,
    ) -> Result<Arc<TaskObj>, Error> {
        // SYSCALLS.md's order: TableFull (the account depth, the tasks quota) before
        // NotFound, NoMemory after.
        let account = account::for_new_task(parent)?;
        let task_charge = account.charge(account::R::Tasks, 1)?;
        let image = initrd::find(name).ok_or(Error::NotFound)?;
        let charges = [
            task_charge,
            account.charge(account::R::HeapBytes, account::TASK_HEAP)?,
        ];
        let mut table = HandleTable::new(abi::limits::MAX_HANDLES);
        let mut start_regs = [0u64; 5];
        start_regs[0] = handles.len() as u64;
        for (i, (obj, rights)) in handles
            .into_iter()
            .enumerate()
            .take(abi::limits::MAX_SPAWN_HANDLES)
        {
            start_regs[1 + i] = u64::from(table.insert(obj, rights)?.0);
        }
        let asid = self.asids.alloc().ok_or(Error::NoMemory)?;
        let mut space = match AddressSpace::new(asid, &account) {
            Ok(s) => s,
            Err(e) => {
                self.asids.free.push(asid);
                return Err(e);
            }
        };
        let setup = loader::load(&mut space, image).and_then(|entry| {
            let stack_base = abi::USER_STACK_TOP - abi::USER_STACK_SIZE;
            space.map_new(
                stack_base,
                abi::USER_STACK_SIZE,
                mm::pgtable::Access::UserReadWrite,
            )?;
            Ok(entry)
        });
        let entry = match setup {
            Ok(e) => e,
            Err(e) => {
                space.destroy();
                self.asids.free.push(asid);
                return Err(e);
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        // EL0t with interrupts unmasked (SPSR 0); x0 = handle count, x1.. = handles.
        let mut frame = TrapFrame {
            x: [0; 31],
            sp_el0: abi::USER_STACK_TOP,
            elr: entry,
            spsr: 0,
        };
        frame.x[..5].copy_from_slice(&start_regs);
        let obj = Arc::new(TaskObj {
            id,
            status: Mutex::new(None),
        });
        let mut threads = ArrayVec::new();
        threads.push(Thread {
            tid: id,
            state: State::Ready,
            frame,
            parked: None,
            obj: Arc::new(object::ThreadObj {
                tid: id,
                status: Mutex::new(None),
            }),
            _charge: None,
        });
        let task = alloc::boxed::Box::new(Task {
            name: name.into(),
            threads,
            space,
            core: Arc::new(Core {
                objects: Mutex::new(Objects {
                    handles: table,
                    cpu_access: ArrayVec::new(),
                }),
                ending: AtomicBool::new(false),
            }),
            obj: obj.clone(),
            mappings: BTreeMap::new(),
            map_window: RangeAllocator::new(
                abi::USER_MAP_BASE,
                abi::USER_MAP_END,
                mm::addr::PAGE_SIZE,
            ),
            legacy: BTreeMap::new(),
            map_heap: account.charge(account::R::HeapBytes, 0)?,
            kill_pending: None,
            account,
            _charges: charges,
        });
        self.tasks.insert(id, task);
        self.make_ready(id, id);
        log::debug!("task {id} '{name}' spawned (ASID {asid})");
        Ok(obj)
    }

    /// End task `id` with `status`: close its handles, free its memory, wake waiters.
    pub fn destroy(&mut self, id: u32, status: (u64, ExitHow)) {
        // A task with a thread running on another CPU goes when the last such CPU
        // next enters the kernel (`reap_killed`): its address space is in use there.
        let here = cpu();
        if self
            .tasks
            .get(&id)
            .is_some_and(|t| t.kill_pending.is_none())
        {
            if let Some(t) = self.tasks.get_mut(&id) {
                t.kill_pending = Some(status);
                t.core.ending.store(true, Ordering::Relaxed);
            }
        }
        if self.cpus[here].current.is_some_and(|(task, _)| task == id) {
            self.cpus[here].current = None;
            self.cpus[here].resched = true;
        }
        let elsewhere = self
            .cpus
            .iter()
            .any(|c| c.current.is_some_and(|(task, _)| task == id));
        if elsewhere {
            crate::irq::kick_others();
            return;
        }
        let Some(mut task) = self.tasks.remove(&id) else {
            return;
        };
        let status = task.kill_pending.unwrap_or(status);
        self.ready.retain(|&(t, _)| t != id);
        for th in &task.threads {
            th.obj.status.lock().get_or_insert(status);
        }
        let tids: ArrayVec<u32, { abi::limits::MAX_THREADS }> =
            task.threads.iter().map(|th| th.tid).collect();
        let (handles, held) = {
            let mut o = task.objects();
            (o.handles.drain(), core::mem::take(&mut o.cpu_access))
        };
        drop(handles);
        // Open STARTs end as their END would (a killed writer's lines are recorded dirty).
        for (buf, access) in held {
            crate::syscall::release_access(&buf, access);
        }
        let asid = task.space.asid();
        task.space.destroy();
        // Mappings die with the space (shared pages are not the space's to free); the
        // buffers go when their last handle or mapping does.
        drop(core::mem::take(&mut task.mappings));
        drop(core::mem::take(&mut task.legacy));
        self.asids.free.push(asid);
        *task.obj.status.lock() = Some(status);
        // Waiters of this task re-issue their wait; receivers of any channel may have
        // lost their peer with the handles just closed, so they re-check too.
        self.wake_where(|b| {
            matches!(b, Block::Wait(t) if t == id || tids.contains(&t))
                || matches!(b, Block::Recv(_))
        });
        harness::on_task_end(self, id, &task.name, status);
    }

    /// Make every task blocked on a matching reason ready again (to re-issue its call).
    pub fn wake_where(&mut self, pred: impl Fn(Block) -> bool) {
        let mut woken = false;
        for (&id, t) in self.tasks.iter_mut() {
            for th in t.threads.iter_mut() {
                if let State::Blocked(b) = th.state {
                    if pred(b) {
                        th.state = State::Ready;
                        self.ready.push_back((id, th.tid));
                        woken = true;
                    }
                }
            }
        }
        if woken && self.cpus.iter().any(|c| c.idle) {
            crate::irq::kick_others();
        }
    }

    /// Let the next ready task run at the end of this exception (yield).
    pub fn end_slice(&mut self) {
        let me = &mut self.cpus[cpu()];
        me.slice_used = SLICE_TICKS;
        me.resched = true;
    }

    /// Block the current thread (its frame is saved by the reschedule on the way out).
    pub fn block_current(&mut self, why: Block) {
        if let Block::Fence(f) = why {
            crate::buffer::trace::record_event(abi::trace::OP_FENCE_WAIT, 0, f, 0, 0);
            if crate::fences::completed(f) {
                // Nothing is left to wait for (a test kernel's first meeting of a fence
                // the device already completed): yield; the call is re-issued when the
                // thread runs again.
                self.cpus[cpu()].resched = true;
                return;
            }
        }
        self.cpus[cpu()].resched = true;
        if let Some(th) = self.current_thread_mut() {
            th.state = State::Blocked(why);
        }
    }

    /// Kill the current task for a fault.
    fn kill_current(&mut self, frame: &TrapFrame, syn: &Syndrome) {
        let Some(id) = self.current_id() else { return };
        let name = self
            .tasks
            .get(&id)
            .map(|t| t.name.clone())
            .unwrap_or_default();
        crate::kprintln!(
            "task {id} '{name}' killed: {syn}\n  ELR_EL1 {:#018x}  SP_EL0 {:#018x}",
            frame.elr,
            frame.sp_el0
        );
        self.destroy(id, (syn.class(), ExitHow::Killed));
    }

    /// Wake what the device completed: restartable fence waits, and `fence_wait`s
    /// (writing their result).
    fn fences(&mut self) {
        // Buffers the block device finished writing may go now.
        crate::blk::retire();
        self.wake(|state| match *state {
            State::Blocked(Block::Fence(f)) if crate::fences::completed(f) => Some(None),
            State::Blocked(Block::FenceWait { fence, .. }) if crate::fences::completed(fence) => {
                let failed = crate::fences::failed(fence);
                Some(Some(if failed { Error::DeviceError as u64 } else { 0 }))
            }
            _ => None,
        });
    }

    /// Make ready every blocked thread `decide` picks (`Some`), writing its x0 where that
    /// says (`Some(Some(x0))`; a restarted call writes none), and wake idle CPUs if any
    /// thread became ready.
    fn wake(&mut self, decide: impl Fn(&State) -> Option<Option<u64>>) {
        let mut woken = false;
        for (&id, t) in self.tasks.iter_mut() {
            for th in t.threads.iter_mut() {
                let Some(x0) = decide(&th.state) else {
                    continue;
                };
                if let Some(x0) = x0 {
                    th.frame.x[0] = x0;
                }
                th.state = State::Ready;
                self.ready.push_back((id, th.tid));
                woken = true;
            }
        }
        if woken && self.cpus.iter().any(|c| c.idle) {
            crate::irq::kick_others();
        }
    }

    /// This CPU's tick: sleepers and timeouts due wake, its slice advances.
    fn tick(&mut self) {
        let now = crate::irq::ticks();
        self.wake(|state| match *state {
            State::Blocked(Block::Sleep(deadline)) if now >= deadline => Some(Some(0)),
            State::Blocked(Block::FenceWait { deadline, .. }) if now >= deadline => {
                Some(Some(Error::TimedOut as u64))
            }
            _ => None,
        });
        let me = &mut self.cpus[cpu()];
        me.slice_used += 1;
        me.resched = true;
        harness::on_tick(self, now);
    }

    /// The thread running here belongs to a task that ended elsewhere: stop it, and end
    /// the task if no other CPU still runs one of its threads.
    fn reap_killed(&mut self) {
        let here = cpu();
        let Some((id, _)) = self.cpus[here].current else {
            return;
        };
        if let Some(status) = self.tasks.get(&id).and_then(|t| t.kill_pending) {
            self.destroy(id, status);
        }
    }
}

/// Set up the task system (after memory, interrupts and the initrd are ready).
pub fn init(harness: harness::Harness) {
    account::init();
    let mut cpus = [CpuSched::default(); MAX_CPUS];
    for c in &mut cpus {
        c.resched = true;
    }
    // The ready queue holds each live task at most once, and the free ASIDs are at most
    // the most tasks ever live at once: room for the tasks quota is reserved now, so
    // spawning, waking and ending tasks never grow the kernel heap.
    let most = account::TASKS as usize;
    *KERNEL.lock() = Some(Kernel {
        tasks: BTreeMap::new(),
        ready: VecDeque::with_capacity(most),
        next_id: 1,
        asids: Asids {
            next: 1,
            free: Vec::with_capacity(most),
        },
        cpus,
        harness,
    });
    STARTED.store(true, core::sync::atomic::Ordering::Release);
    crate::arch::cpu::send_event();
}

/// The task system is set up: secondary CPUs may enter the scheduler.
static STARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// A secondary CPU's scheduler loop: wait until the task system exists, then run tasks
/// (or idle) like the boot CPU. Never returns.
pub fn run_secondary() -> ! {
    while !STARTED.load(core::sync::atomic::Ordering::Acquire) {
        crate::arch::cpu::wait_for_event();
    }
    let guard = KERNEL.lock();
    let mut frame = TrapFrame {
        x: [0; 31],
        sp_el0: 0,
        elr: 0,
        spsr: 0,
    };
    reschedule(guard, &mut frame);
    enter_first(&frame)
}

/// Leave the scheduler's first `reschedule` for EL0 on this CPU.
fn enter_first(frame: &TrapFrame) -> ! {
    let me = crate::smp::this_cpu();
    let top = me.stack_top.load(core::sync::atomic::Ordering::Relaxed);
    // SAFETY: `frame` now holds a ready task's saved EL0 state and TTBR0 holds its
    // address space; `top` is this CPU's stack top; nothing on the stack is needed again.
    unsafe { crate::arch::exception::enter_user(frame, me.index, top) }
}

/// Run the kernel's tasks: start the harness and enter the first task. Never returns.
pub fn run() -> ! {
    let mut guard = KERNEL.lock();
    let k = guard.as_mut().expect("task::init ran");
    harness::start(k);
    let mut frame = TrapFrame {
        x: [0; 31],
        sp_el0: 0,
        elr: 0,
        spsr: 0,
    };
    reschedule(guard, &mut frame);
    enter_first(&frame)
}

/// Tell this CPU's syscall fast path which task it runs (`me.core`), or that there is
/// none or its thread has parked work (null), just before the kernel returns to EL0
/// (every return goes through [`reschedule`]).
fn publish_fast(me: &CpuSched) {
    let fast = if me.current.is_some() && !me.parked && !me.idle {
        me.core
    } else {
        core::ptr::null()
    };
    crate::smp::this_cpu()
        .fast_task
        .store(fast.cast_mut(), Ordering::Relaxed);
}

/// Run `f` on the running task's handles and open accesses for a syscall fast path,
/// without the kernel lock (only the task's own, [`Core::objects`]), if nothing needs
/// the full path: a task runs here, its thread has no parked call, it is not ending.
/// `None` (from here or from `f`) means: take the full path; `f` must then have changed
/// nothing. Called with IRQs masked, on the CPU's way in from EL0; `cpu` is this CPU's
/// block (`smp::this_cpu_from_el0`).
#[inline(always)]
pub fn with_current_fast<R>(
    cpu: &crate::smp::PerCpu,
    f: impl FnOnce(&mut Objects) -> Option<R>,
) -> Option<R> {
    let p = cpu.fast_task.load(Ordering::Relaxed);
    // SAFETY: only this CPU writes its `fast_task` (`publish_fast`, under the kernel lock
    // on its way out to EL0), with a pointer to the `Core` of the task whose thread it
    // then runs, or null. That task is not freed while this CPU runs its thread:
    // `Kernel::destroy` defers it while any CPU's `current` is one of its threads, and
    // this CPU's changes when it next goes through `reschedule`, which publishes again
    // before returning to EL0. `Core` is only ever shared (`&`), never `&mut`.
    let core = unsafe { p.cast_const().as_ref() }?;
    if core.ending.load(Ordering::Relaxed) {
        return None;
    }
    let mut objects = core.objects();
    f(&mut objects)
}

/// An exception from EL0 that is not an IRQ: a syscall or a fault.
pub fn on_lower_sync(frame: &mut TrapFrame) {
    let syn = Syndrome::read();
    let mut guard = KERNEL.lock();
    let Some(k) = guard.as_mut() else { return };
    k.reap_killed();
    if k.current_id().is_none() {
        // Killed from another CPU: its call is not made.
    } else if syn.class() == crate::arch::exception::ec::SVC64 {
        crate::syscall::dispatch(k, frame);
    } else if let Some(outcome) = legacy_fault(k, &syn) {
        use crate::buffer::legacy::FaultOutcome;
        match outcome {
            FaultOutcome::Resolved => {}
            // The faulting instruction is retried once the device is done.
            FaultOutcome::Wait(fence) => k.block_current(Block::Fence(fence)),
            FaultOutcome::Illegal => k.kill_current(frame, &syn),
        }
    } else {
        k.kill_current(frame, &syn);
    }
    reschedule(guard, frame);
}

/// A data abort from EL0 in a legacy (forwarded) mapping: translation or permission
/// faults there are the exporter's coherency mechanism, not errors.
fn legacy_fault(k: &mut Kernel, syn: &Syndrome) -> Option<crate::buffer::legacy::FaultOutcome> {
    let fsc = syn.fault_status() & !3;
    if syn.class() != crate::arch::exception::ec::DABT_LOWER || !(fsc == 0x04 || fsc == 0x0c) {
        return None;
    }
    let id = k.current_id()?;
    crate::buffer::legacy::on_fault(k, id, syn.far, syn.is_write())
}

/// An IRQ taken from EL0 (after the interrupt itself was handled).
pub fn on_lower_irq(frame: &mut TrapFrame, ticked: bool) {
    let mut guard = KERNEL.lock();
    if let Some(k) = guard.as_mut() {
        k.reap_killed();
        k.fences();
        if ticked {
            k.tick();
        }
        // Another CPU may have readied a task for us (the reschedule SGI).
        if !k.ready.is_empty() {
            k.cpus[cpu()].resched = true;
        }
    }
    reschedule(guard, frame);
}

/// An IRQ taken while the kernel idles (no task to run).
pub fn on_idle_irq(ticked: bool) {
    if let Some(k) = KERNEL.lock().as_mut() {
        k.fences();
        if ticked {
            k.tick();
        }
    }
}

/// Decide who runs next and load their frame into `frame`. Keeps the current task if it
/// is still running and its slice is not over (or nobody else is ready). With no task
/// ready, idles with interrupts on until one is.
fn reschedule(mut guard: Guard, frame: &mut TrapFrame) {
    let here = cpu();
    loop {
        let k = guard.as_mut().expect("task::init ran");
        let me = k.cpus[here];
        // Fast path: nothing happened that could take the CPU from the current thread.
        if !me.resched && me.current.is_some() {
            publish_fast(&me);
            return;
        }
        let running = me
            .current
            .and_then(|(id, tid)| k.tasks.get_mut(&id)?.thread_mut(tid))
            .is_some_and(|th| th.state == State::Running);
        if running && (me.slice_used < SLICE_TICKS || k.ready.is_empty()) {
            k.cpus[here].resched = false;
            publish_fast(&k.cpus[here]);
            return;
        }
        // Save the outgoing thread (if it still exists).
        if let Some((id, tid)) = k.cpus[here].current.take() {
            if let Some(th) = k.tasks.get_mut(&id).and_then(|t| t.thread_mut(tid)) {
                th.frame = frame.clone();
                if th.state == State::Running {
                    th.state = State::Ready;
                    k.ready.push_back((id, tid));
                }
            }
        }
        while let Some((id, tid)) = k.ready.pop_front() {
            let Some(t) = k.tasks.get_mut(&id) else {
                continue;
            };
            if t.kill_pending.is_some() {
                continue;
            }
            let ttbr0 = t.space.ttbr0();
            let core = Arc::as_ptr(&t.core);
            if let Some(th) = t.thread_mut(tid) {
                if th.state == State::Ready {
                    th.state = State::Running;
                    *frame = th.frame.clone();
                    crate::arch::mmu::set_user_table(ttbr0);
                    k.cpus[here] = CpuSched {
                        current: Some((id, tid)),
                        slice_used: 0,
                        resched: false,
                        idle: false,
                        switches: k.cpus[here].switches + 1,
                        core,
                        parked: th.parked.is_some(),
                    };
                    publish_fast(&k.cpus[here]);
                    return;
                }
            }
        }
        // Nothing to run: wait for an interrupt (a tick, a device, another CPU's
        // reschedule SGI) without the lock. WFI with IRQs masked still wakes on a
        // pending one, so none is missed between the unlock and the WFI; then it is
        // taken (and handled) with IRQs on for a moment.
        k.cpus[here].idle = true;
        publish_fast(&k.cpus[here]);
        drop(guard);
        crate::latency::point();
        crate::arch::cpu::wait_for_interrupt();
        crate::arch::cpu::enable_irqs();
        crate::arch::cpu::disable_irqs();
        crate::latency::enter();
        guard = KERNEL.lock();
        if let Some(k) = guard.as_mut() {
            k.cpus[here].idle = false;
        }
    }
}
