//! The attacker's calls that make things (channels, buffers, GPU resources, messages,
//! duplicates, children, mappings), each predicted: the table and the mapping limit,
//! then the quotas by SYSCALLS.md's charges (`Att::want_charges`); on success the
//! model takes the charges.

use super::att::*;
use crate::snapshot::QUOTAS;
use crate::Mask;
use urt::{Error, Sys};

impl Att {
    /// `channel_create`, predicted: `TableFull` without two free slots, then the
    /// channels and heap quotas.
    pub fn channel(&mut self) -> Result<(u32, u32), Error> {
        let charges = [(CHANNELS, 1), (HEAP, CHANNEL_HEAP)];
        let want = if self.live + 2 > TABLE {
            Mask::err(Error::TableFull)
        } else {
            self.want_charges(&charges)
        };
        let r = self.sys(Sys::ChannelCreate, [0; 6], want);
        if r[0] != 0 {
            self.refusal(r[0]);
            return Err(Error::try_from(r[0]).unwrap_or(Error::InvalidArgument));
        }
        self.charge(&charges);
        self.live += 2;
        self.made += 1;
        Ok((r[1] as u32, r[2] as u32))
    }

    /// The charges of a channel (for a ledger).
    pub fn channel_charges() -> Ch {
        let mut c = [0; QUOTAS];
        c[CHANNELS] = 1;
        c[HEAP] = CHANNEL_HEAP;
        c
    }

    /// `buffer_create(size, policy)`, predicted; returns the handle and its charges.
    pub fn buffer(&mut self, size: u64, policy: u64) -> Result<(u32, Ch), Error> {
        let pages = size.div_ceil(4096);
        let charges = [(FRAMES, buffer_frames(pages)), (HEAP, buffer_heap(pages))];
        let want = if self.live >= TABLE {
            Mask::err(Error::TableFull)
        } else {
            self.want_charges(&charges)
        };
        let r = self.sys(Sys::BufferCreate, [size, policy, 0, 0, 0, 0], want);
        if r[0] != 0 {
            self.refusal(r[0]);
            return Err(Error::try_from(r[0]).unwrap_or(Error::InvalidArgument));
        }
        self.charge(&charges);
        self.live += 1;
        self.made += 1;
        let mut c = [0; QUOTAS];
        c[FRAMES] = charges[0].1;
        c[HEAP] = charges[1].1;
        Ok((r[1] as u32, c))
    }

    /// `gpu_import(buf, w, h, B8G8R8X8)` of a buffer handle with `DEVICE`, predicted
    /// (the device may refuse within [`DEVICE_SLACK`] of the GPU-bytes limit).
    pub fn import(&mut self, buf: u32, w: u64, h: u64) -> Result<(u32, Ch), Error> {
        let bytes = w * h * 4;
        let charges = [(GPU_RES, 1), (GPU_BYTES, bytes), (HEAP, RESOURCE_HEAP)];
        let mut want = if self.live >= TABLE {
            Mask::err(Error::TableFull)
        } else {
            self.want_charges(&charges)
        };
        if want == Mask::OK && self.room(GPU_BYTES) < bytes + DEVICE_SLACK {
            want = want.or(Error::NoMemory).or(Error::DeviceError);
        }
        let a = [buf as u64, w, h, urt::format::B8G8R8X8, 0, 0];
        let r = self.sys(Sys::GpuImport, a, want);
        if r[0] != 0 {
            self.refusal(r[0]);
            return Err(Error::try_from(r[0]).unwrap_or(Error::InvalidArgument));
        }
        self.charge(&charges);
        self.live += 1;
        self.made += 1;
        let mut c = [0; QUOTAS];
        c[GPU_RES] = 1;
        c[GPU_BYTES] = bytes;
        c[HEAP] = RESOURCE_HEAP;
        Ok((r[1] as u32, c))
    }

    /// `channel_send(via, <nbytes bytes>, hs)`. `rule` is the error the scenario's model
    /// expects before the quotas (a cycle-rule refusal, `PeerClosed`, `QueueFull`), or
    /// `None` if the send must then succeed or hit a quota. On success the handles
    /// left this task's table.
    pub fn send(
        &mut self,
        via: u32,
        nbytes: usize,
        hs: &[u32],
        rule: Option<Error>,
    ) -> Result<(), Error> {
        let bytes = [0x5au8; urt::limits::MAX_MSG_BYTES];
        self.send_bytes(via, &bytes[..nbytes.min(bytes.len())], hs, rule)
    }

    /// `channel_send(via, words, hs)` (little-endian words), as [`Att::send`].
    pub fn send_words(
        &mut self,
        via: u32,
        words: &[u64],
        hs: &[u32],
        rule: Option<Error>,
    ) -> Result<(), Error> {
        let mut bytes = [0u8; urt::limits::MAX_MSG_BYTES];
        let n = words.len().min(bytes.len() / 8);
        for (i, w) in words[..n].iter().enumerate() {
            bytes[8 * i..8 * i + 8].copy_from_slice(&w.to_le_bytes());
        }
        self.send_bytes(via, &bytes[..8 * n], hs, rule)
    }

    /// `channel_send(via, bytes, hs)`, as [`Att::send`].
    pub fn send_bytes(
        &mut self,
        via: u32,
        bytes: &[u8],
        hs: &[u32],
        rule: Option<Error>,
    ) -> Result<(), Error> {
        let charges = [(MESSAGES, 1), (HEAP, MESSAGE_HEAP)];
        let want = match rule {
            Some(e) => Mask::err(e),
            None => self.want_charges(&charges),
        };
        let a = [
            via as u64,
            bytes.as_ptr() as u64,
            bytes.len() as u64,
            hs.as_ptr() as u64,
            hs.len() as u64,
            0,
        ];
        let r = self.sys(Sys::ChannelSend, a, want);
        if r[0] != 0 {
            if rule.is_none() {
                self.refusal(r[0]);
            }
            return Err(Error::try_from(r[0]).unwrap_or(Error::InvalidArgument));
        }
        self.charge(&charges);
        self.live -= hs.len();
        Ok(())
    }

    /// The charges of one queued message.
    pub fn message_charges() -> Ch {
        let mut c = [0; QUOTAS];
        c[MESSAGES] = 1;
        c[HEAP] = MESSAGE_HEAP;
        c
    }

    /// Close a handle that must be live.
    pub fn close(&mut self, h: u32) {
        let r = self.sys(Sys::HandleClose, [h as u64, 0, 0, 0, 0, 0], Mask::OK);
        if r[0] == 0 {
            self.live -= 1;
        }
    }

    /// `handle_dup(h, rights)` that must succeed (or hit a full table).
    pub fn dup(&mut self, h: u32, rights: u32) -> Option<u32> {
        let want = if self.live >= TABLE {
            Mask::err(Error::TableFull)
        } else {
            Mask::OK
        };
        let r = self.sys(Sys::HandleDup, [h as u64, rights as u64, 0, 0, 0, 0], want);
        if r[0] != 0 {
            return None;
        }
        self.live += 1;
        Some(r[1] as u32)
    }

    /// `handle_info(h)`: `(kind, rights)`, or `None` if the call failed (`want` says
    /// which results are allowed).
    pub fn info(&mut self, h: u32, want: Mask) -> Option<(u64, u32)> {
        let r = self.sys(Sys::HandleInfo, [h as u64, 0, 0, 0, 0, 0], want);
        (r[0] == 0).then_some((r[1], r[2] as u32))
    }

    /// Spawn `fuzz_state` as a child with `hs` (moved), predicted for the tasks and
    /// heap quotas and the account depth; the frames a task takes are not fixed by
    /// SYSCALLS.md, so near that limit `NoMemory` is allowed too. The model is synced
    /// from the kernel afterwards by the caller once the child is settled.
    pub fn spawn(&mut self, hs: &[u32]) -> Result<u32, Error> {
        let name = b"fuzz_state";
        let charges = [(TASKS, 1), (HEAP, TASK_HEAP)];
        let mut want = if self.live + 1 > TABLE + hs.len() || self.depth >= super::MAX_ACCOUNT_DEPTH
        {
            Mask::err(Error::TableFull)
        } else {
            self.want_charges(&charges)
        };
        if want == Mask::OK && self.room(FRAMES) < 512 {
            want = want.or(Error::NoMemory);
        }
        let a = [
            name.as_ptr() as u64,
            name.len() as u64,
            hs.as_ptr() as u64,
            hs.len() as u64,
            0,
            0,
        ];
        let r = self.sys(Sys::Spawn, a, want);
        if r[0] != 0 {
            self.refusal(r[0]);
            return Err(Error::try_from(r[0]).unwrap_or(Error::InvalidArgument));
        }
        self.live = self.live + 1 - hs.len();
        self.children += 1;
        self.made += 1;
        self.charge(&charges);
        Ok(r[1] as u32)
    }

    /// `buffer_map(buf, prot)` expected to succeed or hit a limit; the page tables it
    /// may allocate are charged as frames (synced from the kernel).
    pub fn map(&mut self, buf: u32, prot: u64) -> Option<u64> {
        let charges = [(HEAP, MAPPING_HEAP)];
        let mut want = if self.maps.len() >= urt::limits::MAX_MAPPINGS {
            Mask::err(Error::TableFull)
        } else {
            self.want_charges(&charges)
        };
        if want == Mask::OK && self.room(FRAMES) < 8 {
            want = want.or(Error::NoMemory);
        }
        let r = self.sys(Sys::BufferMap, [buf as u64, prot, 0, 0, 0, 0], want);
        if r[0] != 0 {
            self.refusal(r[0]);
            return None;
        }
        self.maps.push((r[1], prot != 1));
        self.charge(&charges);
        let frames = self.sys(Sys::Quota, [FRAMES as u64, 0, 0, 0, 0, 0], Mask::OK)[1];
        self.mine[FRAMES] = frames;
        Some(r[1])
    }
}
