use super::support::{origin, Sim, BASE};
use crate::violation::{Actor, Writer};
use crate::{
    byte_mask, line_pieces, DcOp, DevCmd, Kind, MemType, Observer, Origin, SetWayOp, SetWayOperand,
    LINE,
};

const BUF: u64 = BASE + 0x1000;
const WB: MemType = MemType::WriteBack;
const NC: MemType = MemType::NonCacheable;

#[test]
fn masks_and_pieces() {
    assert_eq!(byte_mask(0, 64), u64::MAX);
    assert_eq!(byte_mask(0, 1), 1);
    assert_eq!(byte_mask(60, 4), 0xf << 60);
    let p: Vec<_> = line_pieces(BASE + 60, 8).collect();
    assert_eq!(p, vec![(BASE, 0xf << 60), (BASE + 64, 0xf)]);
    assert_eq!(line_pieces(BASE, 0).count(), 0);
    assert_eq!(line_pieces(BASE, 128).count(), 2);
}

#[test]
fn origins_and_writers_pack() {
    let o = Origin {
        cpu: 3,
        insn: 0xdead_beef,
        seq: 0x12_3456,
    };
    assert_eq!(Origin::unpack(o.pack()), o);
    for w in [
        Writer::CpuStore(o),
        Writer::NcStore(o),
        Writer::Device(DevCmd(77)),
    ] {
        assert_eq!(Writer::unpack(w.pack()), w);
    }
}

#[test]
fn cleaned_before_the_device_reads_is_fine() {
    let mut s = Sim::new();
    s.fill(0, BUF, 4096, 7);
    s.dc(0, DcOp::Clean, BUF, 4096);
    s.dsb(0);
    s.device_reads(1, BUF, 4096);
    assert_eq!(s.total(), 0, "{:?}", s.m.violations());
    let st = s.m.stats();
    assert_eq!(st.dc[DcOp::Clean.index()].issued, 64);
    assert_eq!(st.dc[DcOp::Clean.index()].effective, 64);
    assert_eq!(st.device_read_lines, 64);
}

#[test]
fn a_missing_clean_is_a_lost_write_naming_the_store() {
    let mut s = Sim::new();
    s.fill(0, BUF, 4096, 7);
    s.dc(0, DcOp::Clean, BUF, 4096 - LINE); // one line short
    s.dsb(0);
    s.device_reads(9, BUF, 4096);
    assert_eq!(s.kinds(), vec![Kind::LostWrite]);
    let v = s.m.violations()[0];
    assert_eq!(v.line, BUF + 4096 - LINE);
    assert_eq!(v.actor, Actor::Device(DevCmd(9)));
    assert_eq!(v.bytes, u64::MAX);
    match v.writer {
        Some(Writer::CpuStore(o)) => assert_eq!(o.cpu, 0),
        w => panic!("writer {w:?}"),
    }
}

#[test]
fn a_clean_not_completed_by_a_dsb_is_a_lost_write() {
    let mut s = Sim::new();
    s.fill(0, BUF, 128, 7);
    s.dc(0, DcOp::Clean, BUF, 128);
    s.device_reads(1, BUF, 128);
    assert_eq!(s.kinds(), vec![Kind::LostWrite, Kind::LostWrite]);
    // A DSB on another CPU does not complete CPU 0's clean; a non-completing one
    // (ISH) neither.
    let mut s = Sim::new();
    s.fill(0, BUF, 64, 7);
    s.dc(0, DcOp::Clean, BUF, 64);
    s.dsb(1);
    s.m.dsb(origin(0, 99), false);
    s.device_reads(1, BUF, 64);
    assert_eq!(s.kinds(), vec![Kind::LostWrite]);
}

#[test]
fn device_reads_only_check_the_bytes_they_read() {
    let mut s = Sim::new();
    s.store(0, BUF + 32, &[1; 8], WB);
    s.device_reads(1, BUF, 32);
    assert_eq!(s.total(), 0);
    s.device_reads(1, BUF + 30, 4);
    assert_eq!(s.kinds(), vec![Kind::LostWrite]);
    assert_eq!(
        s.m.violations()[0].bytes,
        0x3 << 32,
        "bytes 32 and 33 of the read"
    );
}

#[test]
fn stale_read_after_a_device_write_unless_invalidated_after_completion() {
    let mut s = Sim::new();
    s.device_writes(2, BUF, 4096, 0xaa);
    s.load(0, BUF + 64, 8, WB);
    assert_eq!(s.kinds(), vec![Kind::StaleRead]);
    assert_eq!(s.m.violations()[0].writer, Some(Writer::Device(DevCmd(2))));
    // Invalidated after completion: fine.
    let mut s = Sim::new();
    s.device_writes(2, BUF, 4096, 0xaa);
    s.dc(0, DcOp::Invalidate, BUF, 4096);
    s.dsb(0);
    s.load(0, BUF + 64, 8, WB);
    assert_eq!(s.total(), 0);
    assert_eq!(s.m.stats().dc[DcOp::Invalidate.index()].effective, 64);
    // Invalidated while the device was still writing: a speculative fill after the
    // invalidate may still be stale; and reading then is a race.
    let mut s = Sim::new();
    s.m.device_write_begin(DevCmd(3), BUF, 64);
    s.dc(0, DcOp::Invalidate, BUF, 64);
    s.m.device_write_end(DevCmd(3), BUF, 64);
    s.load(0, BUF, 8, WB);
    assert_eq!(s.kinds(), vec![Kind::StaleRead]);
    let mut s = Sim::new();
    s.m.device_write_begin(DevCmd(3), BUF, 64);
    s.load(0, BUF, 8, WB);
    assert_eq!(s.kinds(), vec![Kind::DeviceRace]);
}

#[test]
fn non_cacheable_reads_of_device_data_are_fine() {
    let mut s = Sim::new();
    s.device_writes(2, BUF, 64, 0xaa);
    s.load(0, BUF, 8, NC);
    assert_eq!(s.total(), 0);
}

#[test]
fn ivac_of_a_dirty_line_is_invalidate_damage_civac_is_not() {
    let mut s = Sim::new();
    s.store(0, BUF, &[5; 16], WB); // bytes 0..16 of the edge line are dirty
    s.dc(0, DcOp::Invalidate, BUF, 64);
    assert_eq!(s.kinds(), vec![Kind::InvalidateDamage]);
    assert_eq!(s.m.violations()[0].bytes, 0xffff);
    let mut s = Sim::new();
    s.store(0, BUF, &[5; 16], WB);
    s.dc(0, DcOp::CleanInvalidate, BUF, 64);
    s.dsb(0);
    s.device_reads(1, BUF, 64);
    assert_eq!(s.total(), 0);
}

#[test]
fn device_write_over_a_dirty_line_is_a_lost_device_write() {
    let mut s = Sim::new();
    s.store(0, BUF + 8, &[1; 8], WB);
    s.device_writes(4, BUF, 512, 0xcc);
    assert_eq!(s.kinds(), vec![Kind::LostDeviceWrite]);
    // Cleaned first (END WRITE), then the device writes: fine.
    let mut s = Sim::new();
    s.store(0, BUF + 8, &[1; 8], WB);
    s.dc(0, DcOp::Clean, BUF, 512);
    s.dsb(0);
    s.device_writes(4, BUF, 512, 0xcc);
    assert_eq!(s.total(), 0);
}

#[test]
fn a_store_merged_into_a_stale_copy_then_cleaned_loses_device_bytes() {
    // START WRITE without invalidate after a device write: the CPU writes part of a
    // line whose cached copy may predate the device's bytes; END WRITE cleans it.
    let mut s = Sim::new();
    s.device_writes(4, BUF, 64, 0xcc);
    s.store(0, BUF, &[1; 8], WB);
    s.dc(0, DcOp::Clean, BUF, 64);
    s.dsb(0);
    assert_eq!(s.total(), 0, "the loss shows when someone reads");
    s.device_reads(5, BUF, 64);
    assert_eq!(s.kinds(), vec![Kind::LostDeviceWrite]);
    assert_eq!(s.m.violations()[0].bytes, !0xff);
    // A CPU that overwrites the whole line first loses nothing.
    let mut s = Sim::new();
    s.device_writes(4, BUF, 64, 0xcc);
    s.fill(0, BUF, 64, 1);
    s.dc(0, DcOp::Clean, BUF, 64);
    s.dsb(0);
    s.device_reads(5, BUF, 64);
    assert_eq!(s.total(), 0);
}

#[test]
fn stores_while_a_device_reads_are_races() {
    let mut s = Sim::new();
    s.m.device_read_begin(DevCmd(6), BUF, 4096);
    s.store(0, BUF + 100, &[1; 4], WB);
    assert_eq!(s.kinds(), vec![Kind::DeviceRace]);
    s.m.device_read_end(DevCmd(6), BUF, 4096);
    s.store(0, BUF + 200, &[1; 4], WB);
    assert_eq!(s.total(), 1);
}

#[test]
fn mixed_cacheable_and_non_cacheable_use() {
    // NC store, then a cacheable load without invalidate.
    let mut s = Sim::new();
    s.store(0, BUF, &[1; 8], NC);
    s.load(0, BUF, 8, WB);
    assert_eq!(s.kinds(), vec![Kind::MixedAttributes]);
    // NC load of bytes dirty in the cache.
    let mut s = Sim::new();
    s.store(0, BUF, &[1; 8], WB);
    s.load(0, BUF, 8, NC);
    assert_eq!(s.kinds(), vec![Kind::MixedAttributes]);
    // NC store to a line dirty in the cache.
    let mut s = Sim::new();
    s.store(0, BUF + 32, &[1; 8], WB);
    s.store(0, BUF, &[1; 8], NC);
    assert_eq!(s.kinds(), vec![Kind::MixedAttributes]);
    // The kernel's pattern: zero through the cacheable alias, clean+invalidate, then
    // use only the non-cacheable mapping; a device reads it.
    let mut s = Sim::new();
    s.fill(0, BUF, 4096, 0);
    s.dc(0, DcOp::CleanInvalidate, BUF, 4096);
    s.dsb(0);
    s.store(0, BUF, &[9; 16], NC);
    s.load(0, BUF, 16, NC);
    s.device_reads(1, BUF, 4096);
    assert_eq!(s.total(), 0, "{:?}", s.m.violations());
}

#[test]
fn caches_are_coherent_with_each_other() {
    let mut s = Sim::new();
    s.store(1, BUF, &[1; 8], WB);
    assert_eq!(s.m.dirty(BUF), Some((1, 0xff)));
    s.store(0, BUF + 8, &[1; 8], WB);
    assert_eq!(s.m.dirty(BUF), Some((0, 0xffff)));
    // A clean by address on any CPU writes the line back (broadcast).
    s.dc(1, DcOp::Clean, BUF, 64);
    s.dsb(1);
    s.device_reads(1, BUF, 64);
    assert_eq!(s.total(), 0);
}

#[test]
fn set_way_clean_all_takes_effect_at_the_dsb() {
    let mut s = Sim::with(|c| c.cpus = 1);
    s.fill(0, BUF, 4096, 3);
    let o = origin(0, 1000);
    let levels = s.m.config().geometry.levels.clone();
    for (l, level) in levels.iter().enumerate() {
        for set in 0..level.sets {
            for way in 0..level.ways {
                let operand = SetWayOperand {
                    level: l as u8 + 1,
                    set,
                    way,
                };
                s.m.dc_set_way(o, SetWayOp::CleanInvalidate, operand);
            }
        }
    }
    assert!(s.m.dirty(BUF).is_some(), "not before the DSB");
    s.dsb(0);
    assert_eq!(s.m.dirty(BUF), None);
    s.device_reads(1, BUF, 4096);
    assert_eq!(s.total(), 0);
    // Only L1's sets: lines may still be dirty in L2, so nothing is cleaned.
    let mut s = Sim::with(|c| c.cpus = 1);
    s.fill(0, BUF, 64, 3);
    for set in 0..256 {
        let operand = SetWayOperand {
            level: 1,
            set,
            way: 0,
        };
        s.m.dc_set_way(o, SetWayOp::Clean, operand);
    }
    s.dsb(0);
    assert!(s.m.dirty(BUF).is_some());
}

#[test]
fn waste_is_counted() {
    let mut s = Sim::new();
    // A buffer only the CPU uses: cleaned twice (once dirty, once not).
    s.fill(0, BUF, 128, 1);
    s.dc(0, DcOp::Clean, BUF, 128);
    s.dc(0, DcOp::Clean, BUF, 128);
    s.dsb(0);
    // A buffer a device reads: its clean is needed.
    s.fill(0, BUF + 4096, 64, 1);
    s.dc(0, DcOp::Clean, BUF + 4096, 64);
    s.dsb(0);
    s.device_reads(1, BUF + 4096, 64);
    // An invalidate of lines the device did not write.
    s.device_writes(2, BUF + 8192, 64, 9);
    s.dc(0, DcOp::Invalidate, BUF + 8192, 128);
    s.dsb(0);
    let sum = s.m.summary();
    assert_eq!(sum.issued, 4 + 1 + 2);
    assert_eq!(sum.clean_not_dirty, 2);
    assert_eq!(sum.invalidate_not_stale, 1);
    assert_eq!(sum.on_cpu_only_lines, 4 + 1);
    assert_eq!(sum.needed, 2);
    assert_eq!(sum.waste, 5);
    assert_eq!(s.total(), 0);
}

#[test]
fn modelled_ram_shows_what_a_device_would_read() {
    let mut s = Sim::new();
    s.fill(0, BUF, 128, 0); // zeroed and cleaned at creation
    s.dc(0, DcOp::Clean, BUF, 128);
    s.dsb(0);
    s.fill(0, BUF, 128, 0x55); // drawn, only the first line cleaned
    s.dc(0, DcOp::Clean, BUF, 64);
    s.dsb(0);
    let mut out = [0u8; 128];
    assert_eq!(s.m.modelled_ram(BUF, &mut out), Some(0));
    assert_eq!(&out[..64], &[0x55; 64][..]);
    assert_eq!(
        &out[64..],
        &[0; 64][..],
        "the dirty line's bytes never reached RAM"
    );
    // An invalidate that discards dirty bytes leaves the modelled RAM behind QEMU's.
    s.dc(0, DcOp::Invalidate, BUF + 64, 64);
    assert_eq!(s.m.modelled_ram(BUF + 64, &mut out[..64]), Some(0));
    assert_eq!(&out[..64], &[0; 64][..]);
    // A line dirtied without ever being cleaned is unknown.
    s.fill(0, BUF + 4096, 64, 1);
    assert_eq!(s.m.modelled_ram(BUF + 4096, &mut out[..64]), Some(1));
}

#[test]
fn coherent_devices_need_no_maintenance() {
    let mut s = Sim::with(|c| c.coherent_devices = true);
    s.fill(0, BUF, 256, 1);
    s.device_reads(1, BUF, 256);
    s.device_writes(2, BUF, 256, 3);
    s.load(0, BUF, 8, WB);
    assert_eq!(s.total(), 0);
}

#[test]
fn accesses_outside_ram_are_counted_not_modelled() {
    let mut s = Sim::new();
    s.m.load(origin(0, 1), 0x0900_0000, 0, 4, MemType::Device);
    s.m.dc_va(origin(0, 1), DcOp::Clean, 0x100, 0x100);
    assert_eq!(s.m.stats().outside, 2);
    assert_eq!(s.total(), 0);
}

#[test]
fn each_line_reports_each_kind_in_full_once() {
    let mut s = Sim::new();
    s.fill(0, BUF, 64, 1);
    for _ in 0..3 {
        s.device_reads(1, BUF, 64);
    }
    assert_eq!(s.total(), 3, "every occurrence counted");
    assert_eq!(s.m.violations().len(), 1, "kept once");
    assert_eq!(s.m.violation_lines(), 1);
}

#[test]
fn kept_violations_are_diverse() {
    let mut s = Sim::new();
    s.fill(0, BUF, 4096, 1); // one store instruction per 8 bytes: many signatures
    let o = origin(0, 5);
    for at in (BUF..BUF + 4096).step_by(64) {
        s.m.store(o, at, at, 8, WB); // the same instruction dirtied every line last
    }
    s.device_reads(1, BUF, 4096);
    assert_eq!(s.total(), 64);
    assert_eq!(
        s.m.violations().len(),
        crate::model::KEPT_PER_SIGNATURE as usize
    );
    s.store(1, BUF + 8192, &[1; 8], WB);
    s.device_reads(2, BUF + 8192, 64);
    assert_eq!(
        s.m.violations().len(),
        crate::model::KEPT_PER_SIGNATURE as usize + 1,
        "another writer gets room"
    );
}

#[test]
fn in_flight_checks_are_byte_precise_where_no_write_back_is_involved() {
    // A device writes byte 16 of a non-cacheable line; the CPU fills bytes 32.. of it
    // (the next request's header): no race. The same bytes, or a cacheable store
    // anywhere in the line, are races.
    let mut s = Sim::new();
    s.m.device_write_begin(DevCmd(1), BUF + 16, 1);
    s.store(0, BUF + 32, &[1; 16], NC);
    s.load(0, BUF + 40, 8, NC);
    assert_eq!(s.total(), 0);
    s.load(0, BUF + 16, 1, NC);
    assert_eq!(s.kinds(), vec![Kind::DeviceRace]);
    s.store(0, BUF + 48, &[1; 8], WB);
    assert_eq!(
        s.total(),
        2,
        "a cacheable store's write-back covers the line"
    );
    // Reads: only stores to the bytes being read.
    let mut s = Sim::new();
    s.m.device_read_begin(DevCmd(2), BUF, 16);
    s.store(0, BUF + 32, &[1; 8], WB);
    assert_eq!(s.total(), 0);
    let mut s = Sim::new();
    s.m.device_read_begin(DevCmd(2), BUF, 16);
    s.store(0, BUF + 32, &[1; 8], NC);
    assert_eq!(s.total(), 0);
    s.store(0, BUF + 8, &[1; 8], NC);
    assert_eq!(s.kinds(), vec![Kind::DeviceRace]);
}
