//! Resource accounting: every allocation a task can cause is charged to its
//! [`Account`], and an account's use counts against its own limits and those of every
//! ancestor (a task's children are accounted under it). A charge is a value
//! ([`Charge`]) held by whatever the resource backs (a buffer, a queued message, a task)
//! and refunded when that is dropped, so whatever outlives its creator stays charged to
//! it, and nothing can be freed twice or forgotten.
//!
//! The counters are atomics and a charge is all-or-nothing over the chain of accounts
//! (a failed level rolls back the levels below it), so charging needs no lock.

use abi::Error;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

/// What is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Resource {
    /// Physical 4 KiB frames: buffer pages, page tables, program images and stacks.
    Frames = 0,
    /// Kernel heap bytes (each kind of object charges a documented, conservative size).
    HeapBytes = 1,
    /// Live tasks.
    Tasks = 2,
    /// Live channels (a pair of ends counts once).
    Channels = 3,
    /// Messages sent and not yet received (or dropped).
    Messages = 4,
    /// Live GPU resources.
    GpuResources = 5,
    /// Device (host) memory of those resources, in bytes.
    GpuBytes = 6,
}

/// Number of [`Resource`]s.
pub const RESOURCES: usize = 7;

impl Resource {
    /// Every resource, in order.
    pub const ALL: [Resource; RESOURCES] = [
        Resource::Frames,
        Resource::HeapBytes,
        Resource::Tasks,
        Resource::Channels,
        Resource::Messages,
        Resource::GpuResources,
        Resource::GpuBytes,
    ];

    /// The error a task gets when this quota is exhausted: `NoMemory` for amounts of
    /// memory, `TableFull` for counts of objects.
    pub fn exhausted(self) -> Error {
        match self {
            Resource::Frames | Resource::HeapBytes | Resource::GpuBytes => Error::NoMemory,
            _ => Error::TableFull,
        }
    }
}

/// Limits per resource, in [`Resource`] order.
pub type Limits = [u64; RESOURCES];

/// Deepest chain of accounts (a task's ancestors, the root included), so charging
/// stays cheap: SYSCALLS.md's "Accounts are at most 16 deep".
pub const MAX_DEPTH: usize = 16;

/// One task's account (shared with its descendants' through their `parent` links).
pub struct Account {
    parent: Option<Arc<Account>>,
    depth: usize,
    limits: Limits,
    used: [AtomicU64; RESOURCES],
}

impl Account {
    /// A top-level account.
    pub fn root(limits: Limits) -> Account {
        Account {
            parent: None,
            depth: 1,
            limits,
            used: Default::default(),
        }
    }

    /// A child account of `parent` with `limits` (its use also counts against
    /// `parent`'s). `TableFull` if `parent` is already [`MAX_DEPTH`] deep.
    pub fn child(parent: &Arc<Account>, limits: Limits) -> Result<Account, Error> {
        if parent.depth >= MAX_DEPTH {
            return Err(Error::TableFull);
        }
        Ok(Account {
            parent: Some(parent.clone()),
            depth: parent.depth + 1,
            limits,
            used: Default::default(),
        })
    }

    /// This account's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// What this account (with its descendants) uses of `r`.
    pub fn used(&self, r: Resource) -> u64 {
        self.used[r as usize].load(Ordering::Relaxed)
    }

    /// Take `n` of `r` at this level; false (and nothing taken) if it would pass the
    /// limit.
    fn take(&self, r: Resource, n: u64) -> bool {
        let used = &self.used[r as usize];
        let limit = self.limits[r as usize];
        used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
            u.checked_add(n).filter(|&v| v <= limit)
        })
        .is_ok()
    }

    fn give_back(&self, r: Resource, n: u64) {
        self.used[r as usize].fetch_sub(n, Ordering::AcqRel);
    }

    /// The chain from this account up to the root.
    fn chain(&self) -> impl Iterator<Item = &Account> {
        let mut next = Some(self);
        core::iter::from_fn(move || {
            let this = next?;
            next = this.parent.as_deref();
            Some(this)
        })
    }

    /// Charge `n` of `r` to this account and every ancestor, or to none of them (the
    /// quota's [`Resource::exhausted`] error).
    pub fn charge(self: &Arc<Self>, r: Resource, n: u64) -> Result<Charge, Error> {
        self.take_chain(r, n)?;
        Ok(Charge {
            account: Some(self.clone()),
            resource: r,
            amount: n,
        })
    }

    fn take_chain(&self, r: Resource, n: u64) -> Result<(), Error> {
        for (level, a) in self.chain().enumerate() {
            if !a.take(r, n) {
                for b in self.chain().take(level) {
                    b.give_back(r, n);
                }
                return Err(r.exhausted());
            }
        }
        Ok(())
    }

    fn refund(&self, r: Resource, n: u64) {
        for a in self.chain() {
            a.give_back(r, n);
        }
    }
}

/// An amount of one resource charged to an account; refunded when dropped.
pub struct Charge {
    account: Option<Arc<Account>>,
    resource: Resource,
    amount: u64,
}

impl Charge {
    /// A charge of nothing (for objects the kernel itself owns).
    pub const fn none(resource: Resource) -> Charge {
        Charge {
            account: None,
            resource,
            amount: 0,
        }
    }

    /// The amount charged.
    pub fn amount(&self) -> u64 {
        self.amount
    }

    /// Charge `n` more to the same account (all-or-nothing, as [`Account::charge`]).
    pub fn grow(&mut self, n: u64) -> Result<(), Error> {
        if let Some(a) = &self.account {
            a.take_chain(self.resource, n)?;
        }
        self.amount += n;
        Ok(())
    }
}

impl Charge {
    /// Give back `n` of the charge now (at most what is charged).
    pub fn shrink(&mut self, n: u64) {
        let n = n.min(self.amount);
        if let Some(a) = &self.account {
            a.refund(self.resource, n);
        }
        self.amount -= n;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(a) = &self.account {
            a.refund(self.resource, self.amount);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(frames: u64, tasks: u64) -> Limits {
        let mut l = [u64::MAX; RESOURCES];
        l[Resource::Frames as usize] = frames;
        l[Resource::Tasks as usize] = tasks;
        l
    }

    #[test]
    fn charges_count_up_the_chain_and_refund_on_drop() {
        let root = Arc::new(Account::root(limits(100, 10)));
        let kid = Arc::new(Account::child(&root, limits(60, 10)).unwrap());
        let a = kid.charge(Resource::Frames, 50).unwrap();
        assert_eq!(
            (kid.used(Resource::Frames), root.used(Resource::Frames)),
            (50, 50)
        );
        // The child's own limit stops it, and nothing is taken anywhere.
        assert_eq!(
            kid.charge(Resource::Frames, 11).err(),
            Some(Error::NoMemory)
        );
        assert_eq!(
            (kid.used(Resource::Frames), root.used(Resource::Frames)),
            (50, 50)
        );
        // The parent's limit stops a sibling: all or nothing.
        let sib = Arc::new(Account::child(&root, limits(100, 10)).unwrap());
        let b = sib.charge(Resource::Frames, 40).unwrap();
        assert_eq!(
            sib.charge(Resource::Frames, 11).err(),
            Some(Error::NoMemory)
        );
        assert_eq!(sib.used(Resource::Frames), 40);
        assert_eq!(root.used(Resource::Frames), 90);
        drop(a);
        assert_eq!(
            (kid.used(Resource::Frames), root.used(Resource::Frames)),
            (0, 40)
        );
        drop(b);
        assert_eq!(root.used(Resource::Frames), 0);
    }

    #[test]
    fn counts_are_table_full_and_growth_is_checked() {
        let root = Arc::new(Account::root(limits(10, 2)));
        let t1 = root.charge(Resource::Tasks, 1).unwrap();
        let _t2 = root.charge(Resource::Tasks, 1).unwrap();
        assert_eq!(
            root.charge(Resource::Tasks, 1).err(),
            Some(Error::TableFull)
        );
        drop(t1);
        let mut c = root.charge(Resource::Frames, 4).unwrap();
        c.grow(6).unwrap();
        assert_eq!(c.grow(1), Err(Error::NoMemory));
        c.shrink(3);
        assert_eq!(root.used(Resource::Frames), 7);
        c.grow(3).unwrap();
        c.shrink(100);
        assert_eq!((c.amount(), root.used(Resource::Frames)), (0, 0));
        c.grow(10).unwrap();
        assert_eq!((c.amount(), root.used(Resource::Frames)), (10, 10));
        drop(c);
        assert_eq!(root.used(Resource::Frames), 0);
    }

    #[test]
    fn the_chain_is_bounded() {
        let mut a = Arc::new(Account::root(limits(1, 1)));
        for _ in 1..MAX_DEPTH {
            a = Arc::new(Account::child(&a, limits(1, 1)).unwrap());
        }
        assert_eq!(
            Account::child(&a, limits(1, 1)).err(),
            Some(Error::TableFull)
        );
    }

    #[test]
    fn a_null_charge_refunds_nothing() {
        let mut c = Charge::none(Resource::HeapBytes);
        c.grow(5).unwrap();
        assert_eq!(c.amount(), 5);
    }
}
