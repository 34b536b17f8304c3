//! Tasks: EL0 programs in their own address spaces, their handle tables, and the
//! preemptive round-robin scheduler.
//!
//! The kernel is single-CPU and never blocks inside itself: an exception from EL0 saves
//! the task's registers as a `TrapFrame` on the one kernel stack, the kernel acts on it,
//! and on the way out [`reschedule`] may swap in another task's saved frame (and TTBR0)
//! before `eret`. A syscall that must wait marks its task blocked; the waker either
//! fills in the result (sleep) or makes the task re-issue the `svc` (wait, receive), so
//! no kernel state lives across a block.

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
use kobj::vrange::RangeAllocator;
use kobj::HandleTable;
use object::{Object, TaskObj};
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

/// A task.
pub struct Task {
    /// Program name.
    pub name: String,
    /// Scheduling state.
    pub state: State,
    /// Saved EL0 registers while not running.
    pub frame: TrapFrame,
    /// Address space.
    pub space: AddressSpace,
    /// Handles.
    pub handles: HandleTable<Object>,
    /// Shared with holders of this task's handle.
    pub obj: Arc<TaskObj>,
    /// Direct buffer mappings: user address -> (buffer, size).
    pub mappings: BTreeMap<u64, Arc<Buffer>>,
    /// Free user addresses for buffer mappings.
    pub map_window: RangeAllocator,
    /// Open CPU accesses (START without END): at most 16 buffers at once, searched
    /// linearly (no allocation on the sync path).
    pub cpu_access: ArrayVec<(Arc<Buffer>, CpuAccess), 16>,
    /// Legacy (forwarded) mappings: user address -> mapping.
    pub legacy: BTreeMap<u64, crate::buffer::legacy::LegacyMap>,
    /// What the task and its descendants are charged to.
    pub account: Arc<kobj::quota::Account>,
    /// The task itself: one of the account's tasks, and its kernel heap.
    _charges: [kobj::quota::Charge; 2],
    /// Kernel heap of its mappings ([`account::mapping_heap`] each).
    pub map_heap: kobj::quota::Charge,
    /// A sync interrupted between two maintenance steps; its `svc` is re-issued.
    pub parked: Option<crate::syscall::Parked>,
}

impl Task {
    /// Direct and legacy mappings together (at most `limits::MAX_MAPPINGS`).
    pub fn mapping_count(&self) -> usize {
        self.mappings.len() + self.legacy.len()
    }
}

/// All kernel scheduling state, behind one lock.
pub struct Kernel {
    tasks: BTreeMap<u32, Task>,
    ready: VecDeque<u32>,
    current: Option<u32>,
    next_id: u32,
    asids: Asids,
    slice_used: u64,
    /// The current task may have to give up the CPU (it blocked or yielded, or a tick
    /// happened): the next exit from the kernel runs the scheduler's slow path.
    resched: bool,
    /// What the kernel runs: init, or the user test sequence.
    pub harness: harness::Harness,
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
    /// The running task's id.
    pub fn current_id(&self) -> Option<u32> {
        self.current
    }

    /// A task by id.
    pub fn task(&self, id: u32) -> Option<&Task> {
        self.tasks.get(&id)
    }

    /// A task by id, mutably.
    pub fn task_mut(&mut self, id: u32) -> Option<&mut Task> {
        self.tasks.get_mut(&id)
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
        let task = Task {
            name: name.into(),
            state: State::Ready,
            frame,
            space,
            handles: table,
            obj: obj.clone(),
            mappings: BTreeMap::new(),
            map_window: RangeAllocator::new(
                abi::USER_MAP_BASE,
                abi::USER_MAP_END,
                mm::addr::PAGE_SIZE,
            ),
            cpu_access: ArrayVec::new(),
            legacy: BTreeMap::new(),
            map_heap: account.charge(account::R::HeapBytes, 0)?,
            parked: None,
            account,
            _charges: charges,
        };
        self.tasks.insert(id, task);
        self.ready.push_back(id);
        log::debug!("task {id} '{name}' spawned (ASID {asid})");
        Ok(obj)
    }

    /// End task `id` with `status`: close its handles, free its memory, wake waiters.
    pub fn destroy(&mut self, id: u32, status: (u64, ExitHow)) {
        let Some(mut task) = self.tasks.remove(&id) else {
            return;
        };
        self.ready.retain(|&t| t != id);
        if self.current == Some(id) {
            self.current = None;
        }
        let handles = task.handles.drain();
        drop(handles);
        // Open STARTs end as their END would (a killed writer's lines are cleaned).
        for (buf, access) in core::mem::take(&mut task.cpu_access) {
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
        self.wake_where(|b| matches!(b, Block::Wait(t) if t == id) || matches!(b, Block::Recv(_)));
        harness::on_task_end(self, id, &task.name, status);
    }

    /// Make every task blocked on a matching reason ready again (to re-issue its call).
    pub fn wake_where(&mut self, pred: impl Fn(Block) -> bool) {
        for (&id, t) in self.tasks.iter_mut() {
            if let State::Blocked(b) = t.state {
                if pred(b) {
                    t.state = State::Ready;
                    self.ready.push_back(id);
                }
            }
        }
    }

    /// Let the next ready task run at the end of this exception (yield).
    pub fn end_slice(&mut self) {
        self.slice_used = SLICE_TICKS;
        self.resched = true;
    }

    /// Block the current task (its frame is saved by the reschedule on the way out).
    pub fn block_current(&mut self, why: Block) {
        self.resched = true;
        if let Some(t) = self.current.and_then(|id| self.tasks.get_mut(&id)) {
            t.state = State::Blocked(why);
        }
    }

    /// Kill the current task for a fault.
    fn kill_current(&mut self, frame: &TrapFrame, syn: &Syndrome) {
        let Some(id) = self.current else { return };
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
        for (&id, t) in self.tasks.iter_mut() {
            let result = match t.state {
                State::Blocked(Block::Fence(f)) if crate::fences::completed(f) => None,
                State::Blocked(Block::FenceWait { fence, .. })
                    if crate::fences::completed(fence) =>
                {
                    let failed = crate::fences::failed(fence);
                    Some(if failed { Error::DeviceError as u64 } else { 0 })
                }
                _ => continue,
            };
            if let Some(x0) = result {
                t.frame.x[0] = x0;
            }
            t.state = State::Ready;
            self.ready.push_back(id);
        }
    }

    fn tick(&mut self) {
        let now = crate::irq::ticks();
        for (&id, t) in self.tasks.iter_mut() {
            let x0 = match t.state {
                State::Blocked(Block::Sleep(deadline)) if now >= deadline => 0,
                State::Blocked(Block::FenceWait { deadline, .. }) if now >= deadline => {
                    Error::TimedOut as u64
                }
                _ => continue,
            };
            t.frame.x[0] = x0;
            t.state = State::Ready;
            self.ready.push_back(id);
        }
        self.slice_used += 1;
        self.resched = true;
        harness::on_tick(self, now);
    }
}

/// Set up the task system (after memory, interrupts and the initrd are ready).
pub fn init(harness: harness::Harness) {
    account::init();
    // The ready queue holds each live task at most once, and the free ASIDs are at most
    // the most tasks ever live at once: room for the tasks quota is reserved now, so
    // spawning, waking and ending tasks never grow the kernel heap.
    let most = account::TASKS as usize;
    *KERNEL.lock() = Some(Kernel {
        tasks: BTreeMap::new(),
        ready: VecDeque::with_capacity(most),
        current: None,
        next_id: 1,
        asids: Asids {
            next: 1,
            free: Vec::with_capacity(most),
        },
        slice_used: 0,
        resched: true,
        harness,
    });
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
    // SAFETY: `frame` now holds a ready task's saved EL0 state and TTBR0 holds its
    // address space; nothing on this stack is needed again.
    unsafe { crate::arch::exception::enter_user(&frame) }
}

/// An exception from EL0 that is not an IRQ: a syscall or a fault.
pub fn on_lower_sync(frame: &mut TrapFrame) {
    let syn = Syndrome::read();
    let mut guard = KERNEL.lock();
    let Some(k) = guard.as_mut() else { return };
    if syn.class() == crate::arch::exception::ec::SVC64 {
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
    let id = k.current?;
    crate::buffer::legacy::on_fault(k, id, syn.far, syn.is_write())
}

/// An IRQ taken from EL0 (after the interrupt itself was handled).
pub fn on_lower_irq(frame: &mut TrapFrame, ticked: bool) {
    let mut guard = KERNEL.lock();
    if let Some(k) = guard.as_mut() {
        k.fences();
        if ticked {
            k.tick();
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
    loop {
        let k = guard.as_mut().expect("task::init ran");
        // Fast path: nothing happened that could take the CPU from the current task.
        if !k.resched && k.current.is_some() {
            return;
        }
        let running = k
            .current
            .and_then(|id| k.tasks.get(&id))
            .is_some_and(|t| t.state == State::Running);
        if running && (k.slice_used < SLICE_TICKS || k.ready.is_empty()) {
            k.resched = false;
            return;
        }
        // Save the outgoing task (if it still exists).
        if let Some(id) = k.current.take() {
            if let Some(t) = k.tasks.get_mut(&id) {
                t.frame = frame.clone();
                if t.state == State::Running {
                    t.state = State::Ready;
                    k.ready.push_back(id);
                }
            }
        }
        while let Some(id) = k.ready.pop_front() {
            if let Some(t) = k.tasks.get_mut(&id) {
                if t.state == State::Ready {
                    t.state = State::Running;
                    *frame = t.frame.clone();
                    crate::arch::mmu::set_user_table(t.space.ttbr0());
                    k.current = Some(id);
                    k.slice_used = 0;
                    k.resched = false;
                    return;
                }
            }
        }
        // Nothing to run: wait for an interrupt (the tick wakes sleepers) without the lock.
        drop(guard);
        crate::arch::cpu::enable_irqs();
        crate::arch::cpu::wait_for_interrupt();
        crate::arch::cpu::disable_irqs();
        guard = KERNEL.lock();
    }
}
