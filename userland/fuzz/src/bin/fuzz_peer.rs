//! A helper task of the fuzzer that shares its buffers: spawned with a channel end and
//! up to three buffer or resource handles, it reads its orders (`fuzz::peer`) and runs
//! its own seeded sequence of map / touch / unmap / sync (every flag combination,
//! whole and ranged, rectangles) / present / fence_wait / legacy gpu_mmap calls on them,
//! concurrently with the fuzzer and other peers, checking each result against the
//! documented set and its own model. It never blocks on another task: only on device
//! fences. It ends every START it opened, unmaps everything, sends its report and exits
//! 0 (or 1 after a violation).

#![no_std]
#![no_main]

use fuzz::urt::{self, alloc::vec::Vec, Error, Handle, ObjectKind, Rights, StartArgs, Sys};
use fuzz::{check, peek, peer, poke, raw, recv_words, send_words, Mask, Rng, Violation};

struct Item {
    h: Handle,
    kind: u64,
    obj: u64,
    a: u64,
    b: u64,
    rights: Rights,
    map_offset: u64,
}

struct Map {
    addr: u64,
    len: u64,
    writable: bool,
}

struct Peer {
    items: Vec<Item>,
    /// Open STARTs: (object, flags direction bits).
    starts: Vec<(u64, u64)>,
    maps: Vec<Map>,
    fence: u64,
    seed: u64,
    calls: u64,
    violations: u64,
    first: Option<Violation>,
}

impl Peer {
    fn issue(&mut self, n: u64, num: Sys, args: [u64; 6], want: Mask) -> [u64; 3] {
        // SAFETY: every call this peer makes either has no pointer argument or none
        // the kernel writes through; handles it may lose are its own and modelled.
        let r = unsafe { raw(num as u64, args) };
        if let Err(v) = check(n, num as u64, args, r, want) {
            self.violations += 1;
            if self.first.is_none() {
                urt::println!("fuzz_peer: VIOLATION {v}");
                self.first = Some(v);
            }
        }
        r
    }

    fn start_of(&self, obj: u64) -> Option<u64> {
        self.starts.iter().find(|s| s.0 == obj).map(|s| s.1)
    }

    fn buffers(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.items[i].kind == ObjectKind::Buffer as u64)
            .collect()
    }

    fn resources(&self) -> Vec<usize> {
        (0..self.items.len())
            .filter(|&i| self.items[i].kind == ObjectKind::Resource as u64)
            .collect()
    }

    fn step(&mut self, n: u64) {
        let mut g = Rng::derive(self.seed, 3, n);
        let bufs = self.buffers();
        let ress = self.resources();
        match g.below(12) {
            0 | 1 if !bufs.is_empty() => {
                let it = &self.items[g.pick(&bufs)];
                let prot = if g.chance(1, 8) {
                    g.pick(&[0, 4, 7, u64::MAX])
                } else {
                    1 + g.below(3)
                };
                let want = if !(1..=3).contains(&prot) {
                    Mask::err(Error::InvalidArgument)
                } else if !it.rights.contains(Rights::MAP_READ)
                    || (prot != 1 && !it.rights.contains(Rights::MAP_WRITE))
                {
                    Mask::err(Error::AccessDenied)
                } else if self.maps.len() >= 64 {
                    Mask::err(Error::TableFull)
                } else {
                    Mask::OK.or(Error::NoMemory)
                };
                let (h, len) = (it.h, it.a);
                let r = self.issue(n, Sys::BufferMap, [h.0 as u64, prot, 0, 0, 0, 0], want);
                if r[0] == 0 {
                    self.maps.push(Map {
                        addr: r[1],
                        len,
                        writable: prot != 1,
                    });
                }
            }
            2 if !self.maps.is_empty() => {
                let i = g.index(self.maps.len());
                let addr = self.maps[i].addr;
                let addr = if g.chance(1, 6) {
                    addr + 4096 * (1 + g.below(4))
                } else {
                    addr
                };
                // Another mapping may start there.
                let at = self.maps.iter().position(|m| m.addr == addr);
                let want = if at.is_some() {
                    Mask::OK
                } else {
                    Mask::err(Error::InvalidArgument)
                };
                let r = self.issue(n, Sys::BufferUnmap, [addr, 0, 0, 0, 0, 0], want);
                if let (0, Some(j)) = (r[0], at) {
                    self.maps.swap_remove(j);
                }
            }
            3..=5 if !self.maps.is_empty() => {
                // Touch a few words of a mapping (fault-policy legacy pages fault in and
                // wait for the device here).
                let m = &self.maps[g.index(self.maps.len())];
                for _ in 0..1 + g.below(4) {
                    let off = g.below(m.len / 8) * 8;
                    if m.writable && g.chance(1, 2) {
                        // SAFETY: inside a live writable mapping of ours; no Rust
                        // reference covers mapped buffers.
                        unsafe { poke(m.addr + off, g.next_u64()) };
                    } else {
                        // SAFETY: inside a live readable mapping of ours.
                        let _ = unsafe { peek(m.addr + off) };
                    }
                }
            }
            6 | 7 if !bufs.is_empty() => {
                let it = &self.items[g.pick(&bufs)];
                let (h, obj, size, rights) = (it.h, it.obj, it.a, it.rights);
                let open = self.start_of(obj);
                let dir = match open {
                    Some(d) if g.chance(3, 4) => d,
                    _ => g.pick(&[4, 8, 12]),
                };
                let phase = if open.is_some() && g.chance(3, 4) {
                    2
                } else {
                    1
                };
                let flags = if g.chance(1, 16) {
                    g.below(32)
                } else {
                    phase | dir
                };
                let (offset, len) = match g.below(4) {
                    0 => (0, 0),
                    1 => {
                        let o = g.below(size);
                        (o, 1 + g.below(size - o))
                    }
                    2 => (g.below(size + 8), g.below(size + 8)),
                    _ => (g.below(size / 64) * 64, 64 * (1 + g.below(4))),
                };
                let rect = g.chance(1, 4);
                let (row_len, rows, stride) =
                    (1 + g.below(256), 1 + g.below(8), 256 + g.below(256));
                let want = sync_want(
                    flags,
                    offset,
                    len,
                    size,
                    rights,
                    open,
                    rect.then_some((row_len, rows, stride)),
                );
                let r = if rect {
                    self.issue(
                        n,
                        Sys::BufferSyncRect,
                        [h.0 as u64, flags, offset, row_len, rows, stride],
                        want,
                    )
                } else {
                    self.issue(
                        n,
                        Sys::BufferSync,
                        [h.0 as u64, flags, offset, len, 0, 0],
                        want,
                    )
                };
                if r[0] == 0 {
                    if flags & 1 != 0 {
                        self.starts.push((obj, flags & 12));
                    } else {
                        self.starts.retain(|s| s.0 != obj);
                    }
                }
            }
            8 if !ress.is_empty() => {
                let it = &self.items[g.pick(&ress)];
                let (w, hh) = (it.a, it.b);
                let (x, y) = (g.below(w), g.below(hh));
                let (pw, ph) = if g.chance(1, 8) {
                    (g.below(w + 2), g.below(hh + 2))
                } else {
                    (1 + g.below(w - x), 1 + g.below(hh - y))
                };
                let inside = pw > 0 && ph > 0 && x + pw <= w && y + ph <= hh;
                let holds_write = self.start_of(it.obj).is_some_and(|d| d & 8 != 0);
                let want = if !it.rights.contains(Rights::DEVICE) {
                    Mask::err(Error::AccessDenied)
                } else if !inside {
                    Mask::err(Error::OutOfRange)
                } else if holds_write && strict() {
                    Mask::err(Error::Busy)
                } else {
                    // Another holder (the fuzzer, another peer) may hold it for write.
                    Mask::OK.or(Error::Busy)
                };
                let r = self.issue(n, Sys::GpuPresent, [it.h.0 as u64, x, y, pw, ph, 0], want);
                if r[0] == 0 {
                    self.fence = self.fence.max(r[1]);
                }
            }
            9 if self.fence > 0 => {
                let t = g.pick(&[0, 1_000_000_000]);
                // DeviceError: a present of a resource under 16x16 pixels fails on
                // QEMU's device (SET_SCANOUT refuses it); fences are anybody's here.
                let want = if t == 0 {
                    Mask::OK.or(Error::TimedOut).or(Error::DeviceError)
                } else {
                    Mask::OK.or(Error::DeviceError)
                };
                self.issue(n, Sys::FenceWait, [self.fence, t, 0, 0, 0, 0], want);
            }
            10 if !ress.is_empty() => {
                let it = &self.items[g.pick(&ress)];
                let pages = (it.a * it.b * 4).div_ceil(4096);
                let first = g.below(pages);
                let npages = 1 + g.below(pages - first);
                let prot = 1 + g.below(3);
                let policy = g.below(2);
                let want = if !it.rights.contains(Rights::MAP_READ)
                    || (prot != 1 && !it.rights.contains(Rights::MAP_WRITE))
                {
                    Mask::err(Error::AccessDenied)
                } else if self.maps.len() >= 64 {
                    Mask::err(Error::TableFull)
                } else {
                    Mask::OK.or(Error::NoMemory)
                };
                let r = self.issue(
                    n,
                    Sys::GpuMmap,
                    [
                        it.map_offset + first * 4096,
                        npages * 4096,
                        prot,
                        policy,
                        0,
                        0,
                    ],
                    want,
                );
                if r[0] == 0 {
                    self.maps.push(Map {
                        addr: r[1],
                        len: npages * 4096,
                        writable: prot != 1,
                    });
                }
            }
            _ => {
                let pick = g.index(self.items.len().max(1));
                if let Some((h, kind, rights)) =
                    self.items.get(pick).map(|it| (it.h, it.kind, it.rights))
                {
                    let r = self.issue(n, Sys::HandleInfo, [h.0 as u64, 0, 0, 0, 0, 0], Mask::OK);
                    if r[0] == 0 && (r[1] != kind || r[2] != rights.0 as u64) {
                        let v = Violation {
                            call: n,
                            num: Sys::HandleInfo as u64,
                            args: [h.0 as u64, 0, 0, 0, 0, 0],
                            got: r,
                            want: Mask::OK,
                            why: "handle_info kind/rights differ from what the peer was given",
                        };
                        self.violations += 1;
                        urt::println!("fuzz_peer: VIOLATION {v}");
                        self.first.get_or_insert(v);
                    }
                } else {
                    urt::yield_now();
                }
            }
        }
    }
}

fn strict() -> bool {
    urt::stats(urt::Stat::MisuseStrict).unwrap_or(1) == 1
}

/// What `buffer_sync` (or `buffer_sync_rect` with `rect`) on a live buffer handle of
/// ours may return, given our open START on it.
fn sync_want(
    flags: u64,
    offset: u64,
    len: u64,
    size: u64,
    rights: Rights,
    open: Option<u64>,
    rect: Option<(u64, u64, u64)>,
) -> Mask {
    let phase = flags & 3;
    let dir = flags & 12;
    if flags & !31 != 0 || (phase != 1 && phase != 2) || dir == 0 {
        return Mask::err(Error::BadFlags);
    }
    // USER_CLEANED (16): only with END WRITE/RW; then NotSupported, as the fuzzer's
    // boot has no `uci`.
    if flags & 16 != 0 {
        if phase != 2 || dir & 8 == 0 {
            return Mask::err(Error::BadFlags);
        }
        return Mask::err(Error::NotSupported);
    }
    let range_ok = match rect {
        None if len == 0 => offset == 0,
        None => offset.checked_add(len).is_some_and(|e| e <= size),
        Some((row_len, rows, stride)) => {
            let end = (rows - 1)
                .checked_mul(stride)
                .and_then(|x| x.checked_add(offset))
                .and_then(|x| x.checked_add(row_len));
            row_len > 0 && !(rows > 1 && row_len > stride) && end.is_some_and(|e| e <= size)
        }
    };
    if !range_ok {
        return Mask::err(Error::OutOfRange);
    }
    if !rights.contains(Rights::MAP_READ) || (dir & 8 != 0 && !rights.contains(Rights::MAP_WRITE)) {
        return Mask::err(Error::AccessDenied);
    }
    match (phase, open) {
        (1, Some(_)) => Mask::err(Error::AlreadyStarted),
        // At most 16 STARTs may be open in a task (TableFull beyond).
        (1, None) => Mask::OK.or(Error::TableFull),
        (_, Some(d)) if d == dir => Mask::OK,
        _ => Mask::err(Error::NotStarted),
    }
}

fn main(args: StartArgs) -> i32 {
    let Some(ch) = args.get(0) else { return 2 };
    let mut w = [0u64; 14];
    if recv_words(ch, &mut w).is_err() {
        return 2;
    }
    let mut p = Peer {
        items: Vec::new(),
        starts: Vec::new(),
        maps: Vec::new(),
        fence: 0,
        seed: w[0],
        calls: w[1],
        violations: 0,
        first: None,
    };
    for i in 0..3 {
        let (kind, obj, a, b) = (w[2 + 4 * i], w[3 + 4 * i], w[4 + 4 * i], w[5 + 4 * i]);
        let Some(h) = args.get(1 + i) else { break };
        if kind == 0 {
            continue;
        }
        let Ok((_, rights)) = urt::handle_info(h) else {
            urt::println!("fuzz_peer: handle {:#x} it was given is not live", h.0);
            return 2;
        };
        let map_offset = if kind == ObjectKind::Resource as u64 {
            urt::gpu_map_offset(h).unwrap_or(0)
        } else {
            0
        };
        p.items.push(Item {
            h,
            kind,
            obj,
            a,
            b,
            rights,
            map_offset,
        });
    }
    let calls = p.calls;
    for n in 0..calls {
        p.step(n);
    }
    // End what is open, unmap everything.
    let starts = core::mem::take(&mut p.starts);
    for (obj, dir) in starts {
        if let Some(it) = p
            .items
            .iter()
            .find(|it| it.obj == obj && it.kind == ObjectKind::Buffer as u64)
        {
            let h = it.h;
            p.issue(
                calls,
                Sys::BufferSync,
                [h.0 as u64, 2 | dir, 0, 0, 0, 0],
                Mask::OK,
            );
        }
    }
    for m in core::mem::take(&mut p.maps) {
        p.issue(calls, Sys::BufferUnmap, [m.addr, 0, 0, 0, 0, 0], Mask::OK);
    }
    let v = p.first.unwrap_or(Violation {
        call: 0,
        num: 0,
        args: [0; 6],
        got: [0; 3],
        want: Mask::NONE,
        why: "",
    });
    let report: [u64; peer::REPORT_WORDS] = [
        p.violations,
        v.call,
        v.num,
        v.args[0],
        v.args[1],
        v.args[2],
        v.args[3],
        v.args[4],
        v.args[5],
        v.got[0],
        v.got[1],
        v.got[2],
        calls,
    ];
    let _ = send_words(ch, &report);
    for it in &p.items {
        let _ = urt::handle_close(it.h);
    }
    if p.violations == 0 {
        0
    } else {
        peer::VIOLATION_EXIT as i32
    }
}

urt::entry!(main);
