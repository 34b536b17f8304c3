//! Interrupt dispatch and the periodic timer tick.
//!
//! The GIC driver and the timer PPI come from the board; IRQs are routed here from the
//! exception vectors. Device interrupts (SPIs, LPIs) go to the boot CPU. Every CPU has
//! its own timer tick (its virtual timer PPI, armed at the same counter boundaries) and
//! takes [`RESCHED_SGI`], which another CPU sends when it made a task ready
//! ([`kick_others`]).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use platform::board::{GicInfo, Irq, Region, Trigger, MAX_CPUS};
use platform::gic::Gic;
use spin::{Mutex, Once};

/// The SGI that tells a CPU to look at the ready queue.
pub const RESCHED_SGI: u32 = 0;

const RESCHED: Irq = Irq {
    intid: RESCHED_SGI,
    trigger: Trigger::Edge,
};

/// Tick rate of the periodic timer.
pub const TICK_HZ: u64 = 100;

struct IrqState {
    gic: Gic,
    /// The board's GIC, for the other CPUs' own drivers.
    info: GicInfo,
    timer: Irq,
    timer_intid: u32,
    ticks_per_period: u64,
    /// The counter value of tick 0: tick `n` is due at `start + n * ticks_per_period`.
    start: u64,
}

// SAFETY: the GIC registers are reached only through the IRQ lock.
unsafe impl Send for IrqState {}

static STATE: Once<Mutex<IrqState>> = Once::new();

/// Device interrupt handlers: (INTID, handler). Handlers run with interrupts masked,
/// outside the scheduler's lock, and must be short.
static HANDLERS: Mutex<[Handler; 8]> = Mutex::new([(0, None); 8]);

/// An INTID and the function that handles it.
type Handler = (u32, Option<fn()>);
static TICKS: AtomicU64 = AtomicU64::new(0);
/// `devirq=poll`: device interrupts stay disabled at the GIC and their handlers run only
/// when [`poll_devices`] is called (fence queries, the tick). Benchmark boots use it so
/// that no device interrupt, whose arrival depends on the host and not on icount, lands
/// inside a timed window.
static POLL_DEVICES: AtomicBool = AtomicBool::new(false);
static SPURIOUS: AtomicU64 = AtomicU64::new(0);

/// The last tick each CPU has seen (its share of the scheduler's tick work).
static SEEN: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Take over the GIC, enable the timer PPI and the reschedule SGI, and start the
/// periodic tick (on the boot CPU).
pub fn init(mut gic: Gic, info: GicInfo, timer_irq: Irq) {
    gic.init();
    gic.enable(timer_irq, 0x80);
    gic.enable(RESCHED, 0x80);
    let freq = platform::timer::frequency();
    let ticks_per_period = (freq / TICK_HZ).max(1);
    let start = platform::timer::now();
    STATE.call_once(|| {
        Mutex::new(IrqState {
            gic,
            info,
            timer: timer_irq,
            timer_intid: timer_irq.intid,
            ticks_per_period,
            start,
        })
    });
    platform::timer::arm_at(start + ticks_per_period);
}

/// On a secondary CPU: bring up its part of the GIC, enable its timer PPI and the
/// reschedule SGI, and start its tick at the next boundary.
pub fn init_this_cpu() {
    let Some(state) = STATE.get() else { return };
    let (info, timer, start, period) = {
        let s = state.lock();
        (s.info, s.timer, s.start, s.ticks_per_period)
    };
    // SAFETY: every GIC region is mapped Device-nGnRE in the linear map for good (boot);
    // this driver touches only this CPU's part (its redistributor or banked registers
    // and its CPU interface); the distributor stays the boot CPU's driver's.
    let mut gic = unsafe {
        Gic::new(&info, |r: Region| {
            (crate::memory::layout::LINEAR_BASE + r.base) as usize
        })
    };
    gic.init_this_cpu();
    gic.enable(timer, 0x80);
    gic.enable(RESCHED, 0x80);
    let now = platform::timer::now();
    let next = (now.saturating_sub(start) / period + 1) * period;
    platform::timer::arm_at(start + next);
}

/// Send [`RESCHED_SGI`] to every other CPU (a task became ready).
pub fn kick_others() {
    if crate::smp::online() > 1 {
        if let Some(state) = STATE.get() {
            state.lock().gic.send_sgi_to_others(RESCHED_SGI);
        }
    }
}

/// Choose how device completions are found from now on: by their interrupts (the
/// default) or by polling ([`poll_devices`]); set before devices register.
pub fn set_device_polling(poll: bool) {
    POLL_DEVICES.store(poll, Ordering::Relaxed);
}

/// True if device interrupts are disabled and their handlers are polled instead.
pub fn device_polling() -> bool {
    POLL_DEVICES.load(Ordering::Relaxed)
}

/// Route a device interrupt to `handler` and enable it (in polling mode it stays
/// disabled and `handler` runs from [`poll_devices`]). Fails if the table is full.
/// Handlers must be idempotent: collect whatever the device completed, if anything.
pub fn register(irq: Irq, handler: fn()) -> Result<(), ()> {
    let mut table = HANDLERS.lock();
    let slot = table.iter_mut().find(|(_, h)| h.is_none()).ok_or(())?;
    *slot = (irq.intid, Some(handler));
    drop(table);
    if device_polling() {
        return Ok(());
    }
    if let Some(state) = STATE.get() {
        state.lock().gic.enable(irq, 0xa0);
    }
    Ok(())
}

/// In polling mode, run every device handler once (with IRQs masked, like the
/// interrupt would); otherwise nothing, since the interrupts do it.
pub fn poll_devices() {
    if !device_polling() {
        return;
    }
    let handlers = *HANDLERS.lock();
    for h in handlers.iter().filter_map(|(_, h)| *h) {
        h();
    }
}

/// Timer ticks since [`init`].
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Spurious interrupts seen.
pub fn spurious() -> u64 {
    SPURIOUS.load(Ordering::Relaxed)
}

/// GIC architecture version in use (2 or 3), 0 before [`init`].
pub fn gic_version() -> u8 {
    STATE.get().map_or(0, |s| s.lock().gic.version())
}

/// Handle one IRQ exception: acknowledge, dispatch, end. Returns true if this CPU saw
/// a new tick (the caller then runs the scheduler's tick work for it).
pub fn dispatch() -> bool {
    let Some(state) = STATE.get() else {
        return false;
    };
    let mut state = state.lock();
    let Some((intid, token)) = state.gic.acknowledge() else {
        SPURIOUS.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    let mut ticked = false;
    if intid == state.timer_intid {
        // The tick count comes from the counter, not from counting interrupts, so an
        // interrupt taken late (IRQs masked for a while) loses no time.
        let elapsed = platform::timer::now().wrapping_sub(state.start) / state.ticks_per_period;
        let now = TICKS.fetch_max(elapsed, Ordering::AcqRel).max(elapsed);
        let me = &SEEN[crate::smp::this_cpu().index];
        ticked = me.fetch_max(now, Ordering::AcqRel) < now;
        platform::timer::arm_at(state.start + (now + 1) * state.ticks_per_period);
    } else if intid == RESCHED_SGI {
        // Nothing to do here: the caller looks at the ready queue on the way out.
    } else {
        let handler = HANDLERS
            .lock()
            .iter()
            .find(|(i, h)| *i == intid && h.is_some())
            .and_then(|(_, h)| *h);
        match handler {
            Some(h) => h(),
            None => log::warn!("unhandled IRQ {intid}"),
        }
    }
    state.gic.end_of_interrupt(token);
    ticked
}
