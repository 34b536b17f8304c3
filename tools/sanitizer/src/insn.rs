//! The AArch64 instructions the sanitizer watches, decoded from their encoding when
//! QEMU translates them (Arm ARM C6: SYS, MSR (register), DSB, SVC). Everything else
//! is seen only through its memory accesses.

/// System registers whose writes the sanitizer follows (they define the translation
/// regime of EL1&0: where the tables are, their format, the memory types, MMU on/off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SysReg {
    /// SCTLR_EL1 (M: MMU on; C: data caching on).
    Sctlr,
    /// TTBR0_EL1 (user half).
    Ttbr0,
    /// TTBR1_EL1 (kernel half).
    Ttbr1,
    /// TCR_EL1 (sizes and granules of both halves).
    Tcr,
    /// MAIR_EL1 (the eight memory attributes).
    Mair,
}

/// Maintenance by virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DcVa {
    /// DC CVAC (and DC CVAP / CVADP, which clean at least to the point of coherency).
    Cvac,
    /// DC IVAC.
    Ivac,
    /// DC CIVAC.
    Civac,
    /// DC ZVA (zero a block).
    Zva,
    /// DC CVAU (to the point of unification only: not for devices).
    Cvau,
}

/// A watched instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Watched {
    /// `DC <op>, Xt` by address.
    DcVa(DcVa, u8),
    /// `DC CSW/ISW/CISW, Xt`.
    DcSetWay(cachemodel::SetWayOp, u8),
    /// `DSB <option>` (the CRm field).
    Dsb(u8),
    /// `MSR <reg>, Xt`.
    Msr(SysReg, u8),
    /// Any `TLBI` (the sanitizer's translation cache is flushed).
    Tlbi,
    /// `SVC #imm`.
    Svc,
}

/// The sysreg field (op0, op1, CRn, CRm, op2) of a system instruction, and Rt.
fn sys_fields(w: u32) -> (u32, u32, u32, u32, u32, u8) {
    let op0 = (w >> 19) & 0x3;
    let op1 = (w >> 16) & 0x7;
    let crn = (w >> 12) & 0xf;
    let crm = (w >> 8) & 0xf;
    let op2 = (w >> 5) & 0x7;
    (op0, op1, crn, crm, op2, (w & 0x1f) as u8)
}

/// Decode one instruction word.
pub fn decode(w: u32) -> Option<Watched> {
    // SVC #imm16: 1101 0100 000 imm16 000 01.
    if w & 0xffe0_001f == 0xd400_0001 {
        return Some(Watched::Svc);
    }
    // DSB: 1101 0101 0000 0011 0011 CRm 1 00 11111 (CRm 0 and 4 are other encodings).
    if w & 0xffff_f0ff == 0xd503_309f {
        let crm = ((w >> 8) & 0xf) as u8;
        return (crm != 0 && crm != 4).then_some(Watched::Dsb(crm));
    }
    // System instructions: 1101 0101 00 L op0 op1 CRn CRm op2 Rt.
    if w & 0xffc0_0000 != 0xd500_0000 {
        return None;
    }
    let l = (w >> 21) & 1;
    let (op0, op1, crn, crm, op2, rt) = sys_fields(w);
    if l == 0 && op0 == 1 {
        // SYS: DC and TLBI.
        if crn == 8 && (op1 == 0 || op1 == 4) {
            return Some(Watched::Tlbi);
        }
        if crn != 7 {
            return None;
        }
        use cachemodel::SetWayOp as S;
        return match (op1, crm, op2) {
            (0, 6, 1) => Some(Watched::DcVa(DcVa::Ivac, rt)),
            (0, 6, 2) => Some(Watched::DcSetWay(S::Invalidate, rt)),
            (0, 10, 2) => Some(Watched::DcSetWay(S::Clean, rt)),
            (0, 14, 2) => Some(Watched::DcSetWay(S::CleanInvalidate, rt)),
            (3, 4, 1) => Some(Watched::DcVa(DcVa::Zva, rt)),
            (3, 10, 1) | (3, 12, 1) | (3, 13, 1) => Some(Watched::DcVa(DcVa::Cvac, rt)),
            (3, 11, 1) => Some(Watched::DcVa(DcVa::Cvau, rt)),
            (3, 14, 1) => Some(Watched::DcVa(DcVa::Civac, rt)),
            _ => None,
        };
    }
    if l == 0 && op0 == 3 && op1 == 0 {
        // MSR (register) to an EL1 register.
        let reg = match (crn, crm, op2) {
            (1, 0, 0) => SysReg::Sctlr,
            (2, 0, 0) => SysReg::Ttbr0,
            (2, 0, 1) => SysReg::Ttbr1,
            (2, 0, 2) => SysReg::Tcr,
            (10, 2, 0) => SysReg::Mair,
            _ => return None,
        };
        return Some(Watched::Msr(reg, rt));
    }
    None
}

/// True if a DSB with this CRm option completes cache maintenance for observers outside
/// the inner-shareable domain (a non-coherent device): full system or outer shareable,
/// full or store barrier.
pub fn dsb_completes_maintenance(crm: u8) -> bool {
    matches!(crm, 0b1111 | 0b1110 | 0b0011 | 0b0010)
}

/// The name of a DSB option.
pub fn dsb_name(crm: u8) -> &'static str {
    match crm {
        15 => "SY",
        14 => "ST",
        13 => "LD",
        11 => "ISH",
        10 => "ISHST",
        9 => "ISHLD",
        7 => "NSH",
        6 => "NSHST",
        5 => "NSHLD",
        3 => "OSH",
        2 => "OSHST",
        1 => "OSHLD",
        _ => "?",
    }
}

/// Decode a set/way operand (`DC CSW/ISW/CISW Xt`) with the level's line size and
/// associativity (Arm ARM D7.4.9: way in the top bits of the low word, set above the
/// line offset, level in bits [3:1]). `None` for a level the geometry does not have, and
/// for an operand that does not fit the geometry: a way or set beyond the level's, or any
/// bit set outside those three fields (RES0). Such an operand means the guest built its
/// loop from a different `CCSIDR_EL1` than the model's geometry (it would otherwise be
/// decoded to the wrong sets, silently), or a kernel bug; the caller counts it.
pub fn set_way_operand(
    xt: u64,
    geometry: &cachemodel::Geometry,
) -> Option<cachemodel::SetWayOperand> {
    let level = ((xt >> 1) & 0x7) as u8 + 1;
    let l = geometry.level(level)?;
    // Bits needed for a field of n values (0 for n = 1).
    let bits = |n: u32| 32 - n.saturating_sub(1).leading_zeros();
    let line_shift = l.line.trailing_zeros();
    let set_bits = bits(l.sets);
    let set_mask = (1u64 << set_bits) - 1;
    let set = ((xt >> line_shift) & set_mask) as u32;
    let way_bits = bits(l.ways);
    let way_shift = 32 - way_bits;
    let way_mask = (1u64 << way_bits) - 1;
    let way = ((xt >> way_shift) & way_mask) as u32;
    let fields = (0x7 << 1) | (set_mask << line_shift) | (way_mask << way_shift);
    (xt & !fields == 0 && set < l.sets && way < l.ways).then_some(cachemodel::SetWayOperand {
        level,
        set,
        way,
    })
}

/// `MRS Xt, PMCCNTR_EL0` (op0 3, op1 3, CRn 9, CRm 13, op2 0): the cycle-counter read
/// the benchmarks time their windows with; returns Rt. Not a [`Watched`] instruction
/// (the sanitizer proper ignores it); the cost model records the penalty at each one.
pub fn reads_cycle_counter(w: u32) -> Option<u8> {
    (w & !0x1f == 0xd53b_9d00).then_some((w & 0x1f) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cachemodel::SetWayOp;

    #[test]
    fn decodes_the_kernel_s_instructions() {
        // Encodings as the assembler emits them (llvm-mc / objdump of the kernel).
        assert_eq!(decode(0xd50b7a20), Some(Watched::DcVa(DcVa::Cvac, 0))); // dc cvac, x0
        assert_eq!(decode(0xd5087628), Some(Watched::DcVa(DcVa::Ivac, 8))); // dc ivac, x8
        assert_eq!(decode(0xd50b7e29), Some(Watched::DcVa(DcVa::Civac, 9))); // dc civac, x9
        assert_eq!(decode(0xd50b7420), Some(Watched::DcVa(DcVa::Zva, 0))); // dc zva, x0
        assert_eq!(decode(0xd50b7b20), Some(Watched::DcVa(DcVa::Cvau, 0))); // dc cvau, x0
        assert_eq!(
            decode(0xd5087e42),
            Some(Watched::DcSetWay(SetWayOp::CleanInvalidate, 2))
        ); // dc cisw, x2
        assert_eq!(
            decode(0xd5087a40),
            Some(Watched::DcSetWay(SetWayOp::Clean, 0))
        );
        assert_eq!(
            decode(0xd5087640),
            Some(Watched::DcSetWay(SetWayOp::Invalidate, 0))
        );
        assert_eq!(decode(0xd5033f9f), Some(Watched::Dsb(15))); // dsb sy
        assert_eq!(decode(0xd5033b9f), Some(Watched::Dsb(11))); // dsb ish
        assert_eq!(decode(0xd503379f), Some(Watched::Dsb(7))); // dsb nsh
        assert_eq!(decode(0xd5033fbf), None); // dmb sy
        assert_eq!(decode(0xd5033fdf), None); // isb
        assert_eq!(decode(0xd4000001), Some(Watched::Svc)); // svc #0
        assert_eq!(decode(0xd4000002), None); // hvc #0
        assert_eq!(decode(0xd5181000), Some(Watched::Msr(SysReg::Sctlr, 0))); // msr sctlr_el1, x0
        assert_eq!(decode(0xd5182000), Some(Watched::Msr(SysReg::Ttbr0, 0)));
        assert_eq!(decode(0xd5182021), Some(Watched::Msr(SysReg::Ttbr1, 1)));
        assert_eq!(decode(0xd5182040), Some(Watched::Msr(SysReg::Tcr, 0)));
        assert_eq!(decode(0xd518a200), Some(Watched::Msr(SysReg::Mair, 0)));
        assert_eq!(decode(0xd5381000), None); // mrs x0, sctlr_el1
        assert_eq!(decode(0xd508871f), Some(Watched::Tlbi)); // tlbi vmalle1
        assert_eq!(decode(0xd508831f), Some(Watched::Tlbi)); // tlbi vmalle1is
        assert_eq!(decode(0xd5088740), Some(Watched::Tlbi)); // tlbi aside1, x0
        assert_eq!(decode(0xd50c871f), Some(Watched::Tlbi)); // tlbi alle2
        assert_eq!(decode(0xd508751f), None); // ic iallu
        assert_eq!(decode(0xf9000000), None); // str x0, [x0]
        assert_eq!(decode(0xd53b9d08), None); // mrs x8, pmccntr_el0
        assert_eq!(reads_cycle_counter(0xd53b9d08), Some(8));
        assert_eq!(reads_cycle_counter(0xd53b9d1e), Some(30));
        assert_eq!(reads_cycle_counter(0xd53b9d28), None); // mrs x8, pmxevtyper_el0
        assert_eq!(reads_cycle_counter(0xd53b9e08), None); // mrs x8, pmuserenr_el0
        assert_eq!(reads_cycle_counter(0xd51b9d08), None); // msr pmccntr_el0, x8
        assert_eq!(reads_cycle_counter(0xd5381000), None);
    }

    #[test]
    fn dsb_domains() {
        assert!(dsb_completes_maintenance(15));
        assert!(dsb_completes_maintenance(3));
        assert!(!dsb_completes_maintenance(11));
        assert!(!dsb_completes_maintenance(7));
        assert!(!dsb_completes_maintenance(13));
        assert_eq!(dsb_name(15), "SY");
    }

    #[test]
    fn set_way_operands_as_the_kernel_builds_them() {
        let g = cachemodel::Geometry::cortex_a72();
        // L1 as QEMU 10.0 reports it: 4 ways (bits 31:30), 64-byte lines, 128 sets.
        let op = set_way_operand((3 << 30) | (37 << 6), &g).unwrap();
        assert_eq!((op.level, op.set, op.way), (1, 37, 3));
        let op = set_way_operand((1 << 30) | (127 << 6), &g).unwrap();
        assert_eq!((op.level, op.set, op.way), (1, 127, 1));
        // L2 (level field 1): 16 ways (bits 31:28), 1024 sets.
        let op = set_way_operand((5 << 28) | (1000 << 6) | (1 << 1), &g).unwrap();
        assert_eq!((op.level, op.set, op.way), (2, 1000, 5));
        assert_eq!(set_way_operand(2 << 1, &g), None, "no L3");
    }

    /// The operands the bench kernel's `DC CISW` loop issued under QEMU 10.0 (read from
    /// the guest's registers), decoded: every set of every level is named, which the
    /// clean of the whole cache needs. With the 2-way L1 geometry the sanitizer used to
    /// assume, ways 1 and 3 (bit 30) were decoded as sets 0..127 again and sets 128..255
    /// were never covered: half of every buffer stayed dirty after the clean.
    #[test]
    fn the_kernels_set_way_loop_names_every_set() {
        let g = cachemodel::Geometry::cortex_a72();
        // The kernel's loop (kernel/src/arch/aarch64/cache.rs, clean_all_by_set_way),
        // on the CCSIDR_EL1 values QEMU reports for L1D and L2.
        for (level, ccsidr) in [(0u64, 0x700f_e01au64), (1, 0x707f_e07a)] {
            let line_shift = (ccsidr & 0x7) + 4;
            let ways = ((ccsidr >> 3) & 0x3ff) + 1;
            let sets = ((ccsidr >> 13) & 0x7fff) + 1;
            let way_shift = (ways as u32 - 1).leading_zeros();
            let mut named = vec![vec![false; sets as usize]; ways as usize];
            for way in 0..ways {
                for set in 0..sets {
                    let xt = if ways > 1 { way << way_shift } else { 0 }
                        | (set << line_shift)
                        | (level << 1);
                    let op = set_way_operand(xt, &g).expect("fits the geometry");
                    assert_eq!(u64::from(op.level), level + 1);
                    named[op.way as usize][op.set as usize] = true;
                }
            }
            assert!(named.iter().flatten().all(|&n| n), "level {}", level + 1);
        }
        // Operands observed in the guest (way 1, set 121; way 3, set 127 of L1).
        let op = set_way_operand(0x4000_1e40, &g).unwrap();
        assert_eq!((op.level, op.set, op.way), (1, 121, 1));
        let op = set_way_operand(0xc000_1fc0, &g).unwrap();
        assert_eq!((op.level, op.set, op.way), (1, 127, 3));
    }

    #[test]
    fn set_way_operands_outside_the_geometry_are_refused() {
        let g = cachemodel::Geometry::cortex_a72();
        // A 2-way, 256-set L1's operand for set 128 has bit 13 set: beyond 128 sets.
        assert_eq!(set_way_operand(128 << 6, &g), None);
        // RES0 bits: the line offset, bits between set and way, the high word.
        assert_eq!(set_way_operand(1 << 4, &g), None);
        assert_eq!(set_way_operand(1 << 20, &g), None);
        assert_eq!(set_way_operand(1 << 32, &g), None);
        assert_eq!(set_way_operand(1, &g), None);
    }
}
