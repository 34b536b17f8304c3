//! A sink for handles, so an attacker can make far more objects than its handle table
//! holds: a chain of channel ends, each queued (in the last message of a full queue)
//! for the one before. The attacker holds the first end (the root) and the peer of the
//! last (which it sends through); closing both frees everything in it, however deep.
//! It keeps a ledger of what everything in it was charged, so the model knows what
//! closing it gives back.

use super::att::{Att, Ch, CHANNELS, HEAP, MESSAGES};
use urt::Error;

/// Handles per message besides the next level's end.
pub const PER_MESSAGE: usize = urt::limits::MAX_MSG_HANDLES - 1;

/// The sink.
pub struct Sink {
    /// The end whose queue holds the first level.
    pub root: u32,
    /// The end sends go through (the peer of the deepest level's end).
    pub tx: u32,
    queued: usize,
    /// Levels (channels of its own).
    pub levels: u64,
    /// Handles put in it.
    pub items: u64,
    /// What everything in it was charged.
    pub ledger: Ch,
}

impl Sink {
    /// A new, empty sink (one channel).
    pub fn new(a: &mut Att) -> Result<Sink, Error> {
        let (root, tx) = a.channel()?;
        Ok(Sink {
            root,
            tx,
            queued: 0,
            levels: 1,
            items: 0,
            ledger: Att::channel_charges(),
        })
    }

    /// Put `hs` (at most [`PER_MESSAGE`]) in the sink, with `charges` the ledger of what
    /// they alone keep alive. On error (a quota) the handles stay in the caller's table.
    pub fn put(&mut self, a: &mut Att, hs: &[u32], charges: &Ch) -> Result<(), Error> {
        debug_assert!(hs.len() <= PER_MESSAGE);
        let mut v = [0u32; urt::limits::MAX_MSG_HANDLES];
        v[..hs.len()].copy_from_slice(hs);
        let n = hs.len();
        if self.queued + 1 < urt::limits::CHANNEL_DEPTH {
            a.send(self.tx, 8, &v[..n], None)?;
            self.queued += 1;
        } else {
            // The queue's last message also carries the next level's end.
            let (x, y) = a.channel()?;
            v[n] = x;
            if let Err(e) = a.send(self.tx, 8, &v[..=n], None) {
                a.close(x);
                a.close(y);
                a.refund(&Att::channel_charges());
                return Err(e);
            }
            a.close(self.tx);
            self.tx = y;
            self.queued = 0;
            self.levels += 1;
            self.ledger[CHANNELS] += 1;
            self.ledger[HEAP] += super::att::CHANNEL_HEAP;
        }
        self.ledger[MESSAGES] += 1;
        self.ledger[HEAP] += super::att::MESSAGE_HEAP;
        super::att::add(&mut self.ledger, charges);
        self.items += n as u64;
        Ok(())
    }

    /// Close it: everything in it goes, and the model gets the ledger back.
    pub fn close(self, a: &mut Att) {
        a.close(self.root);
        a.close(self.tx);
        a.refund(&self.ledger);
    }

    /// Keep it to the end (closed, or handed over, or held in death): its two ends.
    pub fn keep(self, a: &mut Att) {
        a.keep.push(self.root);
        a.keep.push(self.tx);
    }
}
