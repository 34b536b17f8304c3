use super::guest::*;
use crate::insn::DcVa;
use cachemodel::Kind;

#[test]
fn a_cleaned_frame_is_fine_and_counted() {
    let mut g = Guest::new(None);
    setup_resource(&mut g);
    g.store(BUF, &[7; 1024], 0x40_1000);
    g.dc(DcVa::Cvac, BUF, 1024);
    g.dsb();
    let h = transfer(&mut g);
    g.complete(h);
    let r = g.s.report();
    assert_eq!(r.json["violations"], 0, "{}", r.text);
    assert_eq!(r.json["maintenance"]["needed"], 16);
    assert_eq!(r.json["maintenance"]["waste"], 0);
    assert_eq!(r.json["traffic"]["device_commands"], 3);
    assert_eq!(r.json["sanitizer"]["walk_errors"], 0, "{}", r.text);
    assert_eq!(r.json["sanitizer"]["pa_mismatches"], 0);
    // Every line the transfer read, its command and response and the rings.
    assert!(r.json["traffic"]["device_read_lines"].as_u64().unwrap() >= 16);
}

#[test]
fn a_missing_clean_names_the_line_resource_command_and_store() {
    let mut g = Guest::new(None);
    setup_resource(&mut g);
    g.store(BUF, &[7; 1024], 0x40_1000);
    g.dc(DcVa::Cvac, BUF, 1024 - 64); // the last line is not cleaned
    g.dsb();
    let h = transfer(&mut g);
    g.complete(h);
    let r = g.s.report();
    assert_eq!(r.json["violations"], 1, "{}", r.text);
    let d = &r.json["details"][0];
    assert_eq!(d["kind"], Kind::LostWrite.name());
    assert_eq!(d["line_pa"], format!("{:#x}", BUF + 1024 - 64));
    assert_eq!(d["line_va"], format!("{:#x}", LINEAR + BUF + 1024 - 64));
    assert_eq!(d["bytes"], "0..=63");
    assert!(d["buffer"]
        .as_str()
        .unwrap()
        .contains("GPU resource 1, backing byte 960 (pixel row 15, column 0)"));
    assert!(d["by"]["command"]
        .as_str()
        .unwrap()
        .starts_with("TRANSFER_TO_HOST_2D resource 1"));
    assert_eq!(d["writer"]["pc"], "0x401000");
    assert!(r.text.contains("violation 1: lost write"), "{}", r.text);
}

#[test]
fn reading_device_data_without_invalidating_is_stale() {
    let mut g = Guest::new(None);
    // A device write: a GPU response (the device writes it) read through the
    // write-back alias of the same memory is stale; through the NC rings it is not.
    setup_resource(&mut g);
    g.load(CMD + 0x200, 8, 0x40_2000); // NC: fine
    assert_eq!(g.s.model().stats().violation_total(), 0);
    // The same bytes through a write-back mapping: map the NC block as WB.
    g.ram.write_u64(RAM + 0x3000, RAM | 1 | (1 << 10));
    g.s.tlbi();
    g.load(CMD + 0x200, 8, 0x40_2004);
    let r = g.s.report();
    assert_eq!(r.json["by_kind"][Kind::StaleRead.name()], 1, "{}", r.text);
    assert!(r.json["details"][0]["writer"]["command"]
        .as_str()
        .unwrap()
        .starts_with("RESOURCE_CREATE_2D"));
}

#[test]
fn frames_show_what_the_device_would_have_read() {
    let dir = std::env::temp_dir().join(format!("san-frames-{}", std::process::id()));
    let mut g = Guest::new(Some(&dir));
    setup_resource(&mut g);
    g.store(BUF, &[0; 1024], 0x40_1000); // zeroed and cleaned at creation
    g.dc(DcVa::Cvac, BUF, 1024);
    g.dsb();
    g.store(BUF, &[0xff; 1024], 0x40_1004); // drawn, never cleaned
    let h = transfer(&mut g);
    g.complete(h);
    let h = g.submit(&gpu_cmd(0x104, &[0, 0, 16, 16, 1, 0]));
    g.complete(h);
    let r = g.s.report();
    assert_eq!(r.json["frames"]["transfers"], 1);
    assert_eq!(r.json["frames"]["transfers_differing"], 1);
    assert_eq!(r.json["frames"]["bytes_differing"], 1024);
    let img = std::fs::read(dir.join("final.ppm")).unwrap();
    assert!(
        img.ends_with(&[0u8; 16 * 16 * 3]),
        "black: the CPU's pixels never reached RAM"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn double_buffered_block_reads_are_no_race() {
    // The capture pipeline's pattern: read N+1 is submitted while read N is in flight;
    // its header shares a non-cacheable line with read N's status byte, and the driver
    // bumps the available index the device read for read N. No violation.
    let mut g = Guest::new(None);
    let blk = 0x0a00_3c00;
    let (desc, avail, used) = (RAM + 0x3_0000, RAM + 0x3_0400, RAM + 0x3_0500);
    let slots = RAM + 0x4_0000; // 32 bytes a slot: header at +0, status at +16
    g.io(blk + 0x008, 2, false);
    g.io(blk + 0x030, 0, true);
    g.io(blk + 0x038, 8, true);
    g.io(blk + 0x080, desc, true);
    g.io(blk + 0x090, avail, true);
    g.io(blk + 0x0a0, used, true);
    g.io(blk + 0x044, 1, true);
    let data = BUF + 0x1000; // write-back memory the device fills
    let submit = |g: &mut Guest, n: u64| {
        let mut hdr = [0u8; 16];
        hdr[8..16].copy_from_slice(&(100 + n).to_le_bytes());
        g.store(slots + 32 * n, &hdr, 0xffff_ff80_0000_6000);
        g.store(slots + 32 * n + 16, &[0xff], 0xffff_ff80_0000_6004);
        for (k, (addr, len, flags)) in [
            (slots + 32 * n, 16u32, 1u16),
            (data + 512 * n, 512, 3),
            (slots + 32 * n + 16, 1, 2),
        ]
        .into_iter()
        .enumerate()
        {
            let i = 3 * n + k as u64;
            let mut d = [0u8; 16];
            d[0..8].copy_from_slice(&addr.to_le_bytes());
            d[8..12].copy_from_slice(&len.to_le_bytes());
            d[12..14].copy_from_slice(&flags.to_le_bytes());
            d[14..16].copy_from_slice(&(i as u16 + 1).to_le_bytes());
            g.store(desc + 16 * i, &d, 0xffff_ff80_0000_6008);
        }
        g.store(
            avail + 4 + 2 * n,
            &((3 * n) as u16).to_le_bytes(),
            0xffff_ff80_0000_600c,
        );
        g.store(
            avail + 2,
            &((n + 1) as u16).to_le_bytes(),
            0xffff_ff80_0000_6010,
        );
        g.io(blk + 0x050, 0, true);
    };
    submit(&mut g, 0);
    submit(&mut g, 1);
    for n in 0..2u64 {
        g.ram
            .write(used + 4 + 8 * n, &((3 * n) as u32).to_le_bytes());
        g.ram.write(used + 2, &((n + 1) as u16).to_le_bytes());
        g.load(used + 2, 2, 0xffff_ff80_0000_6020);
    }
    // START READ of what the device wrote: invalidate, then read.
    g.dc(DcVa::Ivac, data, 1024);
    g.dsb();
    g.load(data, 8, 0x40_3000);
    let r = g.s.report();
    assert_eq!(r.json["violations"], 0, "{}", r.text);
    assert_eq!(r.json["traffic"]["device_commands"], 2);
    assert_eq!(r.json["maintenance"]["needed"], 16, "{}", r.text);
}

/// The bench kernel's clean of the whole cache (`clean_all_by_set_way`: `DC CISW` over
/// every set and way of every level below the point of coherency, as `CCSIDR_EL1`
/// describes them, then one `DSB SY`), with the `CCSIDR_EL1` values QEMU 10.0 reports
/// for `-cpu cortex-a72`: L1D `0x700fe01a` (4 ways, 128 sets), L2 `0x707fe07a`.
fn clean_all_by_set_way(g: &mut Guest) {
    for (level, ccsidr) in [(0u64, 0x700f_e01au64), (1, 0x707f_e07a)] {
        let line_shift = (ccsidr & 0x7) + 4;
        let ways = ((ccsidr >> 3) & 0x3ff) + 1;
        let sets = ((ccsidr >> 13) & 0x7fff) + 1;
        let way_shift = (ways as u32 - 1).leading_zeros();
        for way in 0..ways {
            for set in 0..sets {
                let xt = if ways > 1 { way << way_shift } else { 0 }
                    | (set << line_shift)
                    | (level << 1);
                g.set_way(cachemodel::SetWayOp::CleanInvalidate, xt);
            }
        }
    }
    g.dsb();
}

/// Regression: the set/way clean of the whole cache cleans every line, wherever it
/// sits. The model used to assume a 2-way, 256-set L1D (the TRM's) while QEMU reports 4
/// ways of 128 sets: the kernel's operands for ways 1 and 3 (bit 30) were decoded as
/// sets 0..127 of ways 0 and 1, sets 128..255 were never covered, and every line with
/// physical address bit 13 set stayed dirty (half of a frame: `bench --model` reported
/// 194,304 lost writes and 393,216 stale reads for `setway-clean-all`). The backing here
/// is at PA bit 13 set, so it fails with that geometry.
#[test]
fn the_kernels_set_way_clean_of_everything_cleans_every_line() {
    let mut g = Guest::new(None);
    let backing = BUF + 0x2000;
    let h = g.submit(&gpu_cmd(0x101, &[1, 2, 16, 16]));
    g.complete(h);
    let h = g.submit(&gpu_cmd(
        0x106,
        &[1, 1, backing as u32, (backing >> 32) as u32, 1024, 0],
    ));
    g.complete(h);
    g.store(backing, &[7; 1024], 0x40_1000);
    clean_all_by_set_way(&mut g);
    let h = transfer(&mut g);
    g.complete(h);
    let r = g.s.report();
    assert_eq!(r.json["violations"], 0, "{}", r.text);
    assert_eq!(r.json["sanitizer"]["set_way_errors"], 0, "{}", r.text);
    assert_eq!(r.json["maintenance"]["set_way"], 4 * 128 + 16 * 1024);
}

/// An operand that does not fit the geometry is counted (and fails the run in xtask),
/// not decoded to some other set.
#[test]
fn set_way_operands_outside_the_geometry_are_counted() {
    let mut g = Guest::new(None);
    g.set_way(cachemodel::SetWayOp::CleanInvalidate, 128 << 6); // set 128 of a 128-set L1
    g.set_way(cachemodel::SetWayOp::CleanInvalidate, 1 << 6);
    g.dsb();
    let r = g.s.report();
    assert_eq!(r.json["sanitizer"]["set_way_errors"], 1, "{}", r.text);
    assert!(r
        .text
        .contains("1 set/way operands outside the cache geometry"));
}

#[test]
fn el0_maintenance_counts_only_where_the_architecture_runs_it() {
    use crate::insn::SysReg;
    const EL0: u64 = 0x40_3000;
    // Without SCTLR_EL1.UCI an EL0 clean traps: it cleans nothing, the device reads a
    // dirty line; an EL0 DC IVAC is UNDEFINED: it discards nothing.
    let mut g = Guest::new(None);
    setup_resource(&mut g);
    g.store(BUF, &[7; 1024], 0x40_1000);
    g.dc_at(DcVa::Ivac, BUF, 64, EL0);
    assert_eq!(
        g.s.model().stats().violation_total(),
        0,
        "an EL0 DC IVAC ran"
    );
    g.dc_at(DcVa::Cvac, BUF, 1024, EL0);
    g.dsb();
    let h = transfer(&mut g);
    g.complete(h);
    let r = g.s.report();
    assert_eq!(r.json["violations"], 16, "{}", r.text);
    assert_eq!(r.json["maintenance"]["dc_el0_refused"], 17);
    // With UCI (what `uci` sets) the EL0 clean runs; DC IVAC still does not.
    let mut g = Guest::new(None);
    g.s.msr(0, SysReg::Sctlr, 0b101 | 1 << 26);
    setup_resource(&mut g);
    g.store(BUF, &[7; 1024], 0x40_1000);
    g.dc_at(DcVa::Ivac, BUF, 64, EL0);
    g.dc_at(DcVa::Cvac, BUF, 1024, EL0);
    g.dsb();
    let h = transfer(&mut g);
    g.complete(h);
    let r = g.s.report();
    assert_eq!(r.json["violations"], 0, "{}", r.text);
    assert_eq!(r.json["maintenance"]["dc_el0_refused"], 1);
}
