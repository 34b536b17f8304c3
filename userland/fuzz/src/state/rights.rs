//! Rights passed along: duplicates with fewer rights, handles sent through a channel and
//! received, handles passed to a child and sent back, GPU resources imported from
//! buffer handles with partial rights. SYSCALLS.md, "Rights": anything derived carries
//! at most its source's rights; an import's resource gets `DEVICE` and the buffer
//! handle's `SHARE`, `MAP_READ`, `MAP_WRITE`, no more. Every handle's rights are
//! checked (`handle_info`) against the model, and every call that needs a right is
//! tried: `buffer_map` read and write, `buffer_sync` START READ and WRITE, `gpu_import`,
//! `gpu_present`, `gpu_mmap` (which takes the rights of the caller's first handle of
//! the resource), `blk_read` (`DEVICE_WRITE`). A read-only mapping may be kept for the
//! fault ending, whose write must kill the task.

use super::att::{Att, HEAP};
use super::CHILD_ECHO;
use crate::Mask;
use urt::alloc::vec::Vec;
use urt::{Error, ObjectKind, Rights, Sys};

const SHARE: u32 = Rights::SHARE.0;
const MAP_READ: u32 = Rights::MAP_READ.0;
const MAP_WRITE: u32 = Rights::MAP_WRITE.0;
const DEVICE: u32 = Rights::DEVICE.0;
const DEVICE_WRITE: u32 = Rights::DEVICE_WRITE.0;
const BUF_ALL: u32 = SHARE | MAP_READ | MAP_WRITE | DEVICE | DEVICE_WRITE;

#[derive(Clone, Copy)]
struct Item {
    h: u32,
    /// A resource (else a buffer).
    res: bool,
    /// Resource index (resources) — all items of a round share one buffer.
    obj: usize,
    rights: u32,
}

struct Round {
    items: Vec<Item>,
    /// Map offsets of this round's resources.
    offs: Vec<u64>,
    size: u64,
}

fn kind(it: &Item) -> u64 {
    if it.res {
        ObjectKind::Resource as u64
    } else {
        ObjectKind::Buffer as u64
    }
}

fn slot(h: u32) -> u32 {
    (h & 0xffff).wrapping_sub(1)
}

/// Check a handle's kind and rights against the model, and that they are within its
/// source's.
fn verify(a: &mut Att, it: &Item, source: u32) {
    let got = a.info(it.h, Mask::OK);
    if got != Some((kind(it), it.rights)) || it.rights & !source != 0 {
        a.fail(
            Sys::HandleInfo,
            [it.h as u64, source as u64, 0, 0, 0, 0],
            [0, got.map_or(0, |g| g.0), got.map_or(0, |g| g.1 as u64)],
            "a derived handle's rights differ from the model or exceed its source's",
        );
    }
}

/// The scenario.
pub fn run(a: &mut Att) {
    let rounds = 2 + a.g.below(12);
    let blk = a.sys(Sys::BlkInfo, [0; 6], Mask::OK.or(Error::NotSupported));
    let sectors = if blk[0] == 0 { blk[1] } else { 0 };
    for _ in 0..rounds {
        if a.over() {
            break;
        }
        let size = 4096 * (1 + a.g.below(16));
        let policy = a.g.below(2);
        let Ok((b, _)) = a.buffer(size, policy) else {
            break;
        };
        let mut r = Round {
            items: Vec::new(),
            offs: Vec::new(),
            size,
        };
        r.items.push(Item {
            h: b,
            res: false,
            obj: 0,
            rights: BUF_ALL,
        });
        for _ in 0..3 + a.g.below(10) {
            if a.over() || a.live + 8 > super::att::TABLE {
                break;
            }
            derive(a, &mut r);
        }
        for i in 0..r.items.len() {
            exercise(a, &r, i, sectors);
            a.step();
        }
        // Close most; keep a few (and so the buffer) to the end.
        for it in r.items {
            if a.g.chance(1, 4) {
                a.keep.push(it.h);
            } else {
                a.close(it.h);
            }
        }
        a.sync_quota();
    }
}

/// One derivation from a random item.
fn derive(a: &mut Att, r: &mut Round) {
    let src = r.items[a.g.index(r.items.len())];
    match a.g.below(8) {
        0..=2 => {
            // A duplicate: a subset, or (sometimes) more than the source, or
            // undefined bits.
            let (rights, want) = match a.g.below(8) {
                0 => (1u32 << 8, Mask::err(Error::InvalidArgument)),
                1 => {
                    let more = !src.rights & 0xff;
                    if more == 0 {
                        (src.rights, Mask::OK)
                    } else {
                        (
                            src.rights | (1 << more.trailing_zeros()),
                            Mask::err(Error::AccessDenied),
                        )
                    }
                }
                _ => (src.rights & a.g.next_u64() as u32, Mask::OK),
            };
            let want = if src.rights & SHARE == 0 {
                if rights > 0xff {
                    Mask::err(Error::InvalidArgument)
                } else {
                    Mask::err(Error::AccessDenied)
                }
            } else {
                want
            };
            let x = a.sys(
                Sys::HandleDup,
                [src.h as u64, rights as u64, 0, 0, 0, 0],
                want,
            );
            if x[0] == 0 {
                a.live += 1;
                let it = Item {
                    h: x[1] as u32,
                    rights,
                    ..src
                };
                verify(a, &it, src.rights);
                r.items.push(it);
            }
        }
        3 | 4 if !src.res => {
            // An import: DEVICE needed; the resource gets DEVICE plus the handle's SHARE,
            // MAP_READ and MAP_WRITE.
            let (w, h) = (1 + a.g.below(64), 1 + a.g.below(16));
            let (w, h) = if w * h * 4 > r.size { (16, 16) } else { (w, h) };
            if src.rights & DEVICE == 0 {
                let args = [src.h as u64, w, h, urt::format::B8G8R8X8, 0, 0];
                a.sys(Sys::GpuImport, args, Mask::err(Error::AccessDenied));
                return;
            }
            let Ok((res, _)) = a.import(src.h, w, h) else {
                return;
            };
            let off = a.sys(Sys::GpuMapOffset, [res as u64, 0, 0, 0, 0, 0], Mask::OK)[1];
            r.offs.push(off);
            let it = Item {
                h: res,
                res: true,
                obj: r.offs.len() - 1,
                rights: DEVICE | (src.rights & (SHARE | MAP_READ | MAP_WRITE)),
            };
            verify(a, &it, src.rights | DEVICE);
            r.items.push(it);
        }
        5 | 6 => {
            // Through a channel of our own: sent and received, the same rights.
            let Ok((p, q)) = a.channel() else { return };
            let rule = (src.rights & SHARE == 0).then_some(Error::AccessDenied);
            if a.send(p, 3, &[src.h], rule).is_ok() {
                let mut hv = [0u32; 1];
                let mut bytes = [0u8; 8];
                let args = [
                    q as u64,
                    bytes.as_mut_ptr() as u64,
                    8,
                    hv.as_mut_ptr() as u64,
                    1,
                    0,
                ];
                let x = a.sys(Sys::ChannelRecv, args, Mask::OK);
                a.refund(&Att::message_charges());
                if x[0] == 0 {
                    a.live += 1;
                    let pos = r.items.iter().position(|i| i.h == src.h);
                    let it = Item { h: hv[0], ..src };
                    verify(a, &it, src.rights);
                    if let Some(p) = pos {
                        r.items[p] = it;
                    }
                }
            }
            a.close(p);
            a.close(q);
            a.refund(&Att::channel_charges());
        }
        _ => {
            // Through a child: passed to spawn, sent back.
            if src.rights & SHARE == 0 {
                return;
            }
            let Ok((c0, c1)) = a.channel() else { return };
            let seed = a.g.next_u64();
            let orders = [CHILD_ECHO, seed, 0];
            let spawned = match a.send_words(c0, &orders, &[], None) {
                Ok(()) => a.spawn(&[c1, src.h]).ok(),
                Err(_) => None,
            };
            if let Some(t) = spawned {
                let mut w = [0u64; 8];
                let mut hv = [0u32; 4];
                let mut bytes = [0u8; 64];
                // The child answers (blocks until it has).
                let args = [
                    c0 as u64,
                    bytes.as_mut_ptr() as u64,
                    64,
                    hv.as_mut_ptr() as u64,
                    4,
                    0,
                ];
                // (If a full quota refused its answer, the child ended instead.)
                let x = a.sys(Sys::ChannelRecv, args, Mask::OK.or(Error::PeerClosed));
                for (i, v) in w.iter_mut().enumerate() {
                    let mut b8 = [0u8; 8];
                    b8.copy_from_slice(&bytes[8 * i..8 * i + 8]);
                    *v = u64::from_le_bytes(b8);
                }
                let pos = r.items.iter().position(|i| i.h == src.h);
                if x[0] == 0 && x[2] == 1 {
                    a.live += 1;
                    let it = Item { h: hv[0], ..src };
                    if (w[0], w[1] as u32) != (kind(&src), src.rights) || w[7] != 0 {
                        a.fail(
                            Sys::Spawn,
                            [src.h as u64, 0, 0, 0, 0, 0],
                            [w[0], w[1], w[7]],
                            "a handle passed to spawn arrived with other rights (or the child found a violation)",
                        );
                    }
                    verify(a, &it, src.rights);
                    if let Some(p) = pos {
                        r.items[p] = it;
                    }
                } else if let Some(p) = pos {
                    r.items.remove(p);
                }
                a.close(t);
                a.close(c0);
                a.await_children();
            } else {
                a.close(c0);
            }
            a.sync_quota();
        }
    }
}

/// Every call that needs a right, on item `i`.
fn exercise(a: &mut Att, r: &Round, i: usize, sectors: u64) {
    let it = r.items[i];
    let h = it.h as u64;
    if it.res {
        // The legacy mapping takes the rights of the caller's first (lowest slot)
        // handle of the resource.
        let owner = r
            .items
            .iter()
            .filter(|x| x.res && x.obj == it.obj)
            .min_by_key(|x| slot(x.h))
            .map_or(0, |x| x.rights);
        let off = r.offs[it.obj];
        for prot in [1u64, 3] {
            let policy = a.g.below(2);
            let need = MAP_READ | if prot == 3 { MAP_WRITE } else { 0 };
            let pages = 1 + a.g.below(r.size / 4096);
            let charges = [(HEAP, super::att::MAPPING_HEAP + 8 * pages)];
            let mut want = if owner & need != need {
                Mask::err(Error::AccessDenied)
            } else if a.maps.len() >= urt::limits::MAX_MAPPINGS {
                Mask::err(Error::TableFull)
            } else {
                a.want_charges(&charges)
            };
            if want == Mask::OK && a.room(super::att::FRAMES) < 8 {
                want = want.or(Error::NoMemory);
            }
            let x = a.sys(Sys::GpuMmap, [off, pages * 4096, prot, policy, 0, 0], want);
            if x[0] == 0 {
                a.charge(&charges);
                // SAFETY: a live readable mapping of ours (a fault-policy page faults in).
                let _ = unsafe { crate::peek(x[1]) };
                if prot == 1 && a.g.chance(1, 3) {
                    a.maps.push((x[1], false));
                } else {
                    a.sys(Sys::BufferUnmap, [x[1], 0, 0, 0, 0, 0], Mask::OK);
                    a.refund(&{
                        let mut c = [0; crate::snapshot::QUOTAS];
                        c[HEAP] = charges[0].1;
                        c
                    });
                }
                a.sync_quota();
            }
        }
        let want = if it.rights & DEVICE == 0 {
            Mask::err(Error::AccessDenied)
        } else {
            Mask::OK.or(Error::Busy)
        };
        a.sys(Sys::GpuPresent, [h, 0, 0, 1, 1, 0], want);
        a.sys(
            Sys::BufferMap,
            [h, 1, 0, 0, 0, 0],
            Mask::err(Error::WrongType),
        );
        let want = if sectors == 0 {
            Mask::err(Error::NotSupported)
        } else {
            Mask::err(Error::WrongType)
        };
        a.sys(Sys::BlkRead, [h, 0, 0, 1, 0, 0], want);
        return;
    }
    // A buffer handle.
    for prot in [1u64, 3] {
        let need = MAP_READ | if prot == 3 { MAP_WRITE } else { 0 };
        if it.rights & need != need {
            a.sys(
                Sys::BufferMap,
                [h, prot, 0, 0, 0, 0],
                Mask::err(Error::AccessDenied),
            );
        } else if let Some(p) = a.map(it.h, prot) {
            // SAFETY: a live mapping of ours, readable.
            let _ = unsafe { crate::peek(p) };
            if prot == 1 && a.g.chance(1, 3) {
                // Kept: the fault ending writes to it.
            } else {
                a.sys(Sys::BufferUnmap, [p, 0, 0, 0, 0, 0], Mask::OK);
                a.maps.retain(|m| m.0 != p);
                a.refund(&{
                    let mut c = [0; crate::snapshot::QUOTAS];
                    c[HEAP] = super::att::MAPPING_HEAP;
                    c
                });
                a.sync_quota();
            }
        }
    }
    for dir in [urt::sync::READ, urt::sync::WRITE] {
        let need = MAP_READ
            | if dir == urt::sync::WRITE {
                MAP_WRITE
            } else {
                0
            };
        if it.rights & need != need {
            let args = [h, urt::sync::START | dir, 0, 0, 0, 0];
            a.sys(Sys::BufferSync, args, Mask::err(Error::AccessDenied));
        } else {
            let args = [h, urt::sync::START | dir, 0, 0, 0, 0];
            if a.sys(Sys::BufferSync, args, Mask::OK)[0] == 0 {
                let args = [h, urt::sync::END | dir, 0, 0, 0, 0];
                a.sys(Sys::BufferSync, args, Mask::OK);
            }
        }
    }
    if it.rights & DEVICE == 0 {
        let args = [h, 16, 16, urt::format::B8G8R8X8, 0, 0];
        a.sys(Sys::GpuImport, args, Mask::err(Error::AccessDenied));
    }
    let sector = if sectors > 0 { a.g.below(sectors) } else { 0 };
    let args = [h, 0, sector, 1, 0, 0];
    let want = if sectors == 0 {
        Mask::err(Error::NotSupported)
    } else if it.rights & DEVICE_WRITE == 0 {
        Mask::err(Error::AccessDenied)
    } else {
        Mask::OK
    };
    let x = a.sys(Sys::BlkRead, args, want);
    if x[0] == 0 {
        a.sys(Sys::FenceWait, [x[1], 1_000_000_000, 0, 0, 0, 0], Mask::OK);
    }
}
