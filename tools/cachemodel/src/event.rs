//! The event vocabulary: what a front end (the QEMU plugin, a test) tells a model.

/// The memory type of an access, from the stage-1 tables (MAIR) or the MMU being off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemType {
    /// Device memory (or any data access with the MMU off): never cached.
    Device,
    /// Normal non-cacheable: loads and stores go to RAM.
    NonCacheable,
    /// Normal write-through: loads may hit the cache, stores also go to RAM.
    WriteThrough,
    /// Normal write-back: loads and stores go to the cache.
    WriteBack,
}

impl MemType {
    /// Loads may be served from (and fill) the cache.
    pub fn cacheable(self) -> bool {
        matches!(self, MemType::WriteThrough | MemType::WriteBack)
    }

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            MemType::Device => "Device",
            MemType::NonCacheable => "Normal-NC",
            MemType::WriteThrough => "Normal-WT",
            MemType::WriteBack => "Normal-WB",
        }
    }
}

/// Where a CPU event came from. `insn` and `seq` are the front end's: the model stores
/// them with the line and hands them back in violations (the sanitizer uses `insn` as
/// an index into its table of translated instructions, and `seq` as the CPU's syscall
/// count at the time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The CPU (vCPU index, below 128).
    pub cpu: u8,
    /// The front end's instruction id.
    pub insn: u32,
    /// The front end's sequence number (24 bits kept).
    pub seq: u32,
}

impl Origin {
    /// Packed into 64 bits (cpu 8, seq 24, insn 32) for per-line storage.
    pub fn pack(self) -> u64 {
        (u64::from(self.cpu) << 56) | (u64::from(self.seq & 0xff_ffff) << 32) | u64::from(self.insn)
    }

    /// The inverse of [`Origin::pack`].
    pub fn unpack(v: u64) -> Origin {
        Origin {
            cpu: (v >> 56) as u8,
            seq: ((v >> 32) & 0xff_ffff) as u32,
            insn: v as u32,
        }
    }
}

/// A device command, as an id in the front end's table (which device, which command,
/// which resource).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DevCmd(pub u32);

/// Data-cache maintenance by virtual address to the point of coherency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DcOp {
    /// `DC CVAC`: write back a dirty line, keep it.
    Clean,
    /// `DC IVAC`: drop the line, dirty bytes lost.
    Invalidate,
    /// `DC CIVAC`: write back if dirty, then drop.
    CleanInvalidate,
}

impl DcOp {
    /// Every op, in index order.
    pub const ALL: [DcOp; 3] = [DcOp::Clean, DcOp::Invalidate, DcOp::CleanInvalidate];

    /// Index into per-op tables.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The instruction's name.
    pub fn name(self) -> &'static str {
        match self {
            DcOp::Clean => "DC CVAC",
            DcOp::Invalidate => "DC IVAC",
            DcOp::CleanInvalidate => "DC CIVAC",
        }
    }

    /// Writes dirty data back.
    pub fn cleans(self) -> bool {
        !matches!(self, DcOp::Invalidate)
    }

    /// Drops the line.
    pub fn invalidates(self) -> bool {
        !matches!(self, DcOp::Clean)
    }
}

/// Data-cache maintenance by set/way (local to the issuing CPU, one level).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetWayOp {
    /// `DC CSW`.
    Clean,
    /// `DC ISW`.
    Invalidate,
    /// `DC CISW`.
    CleanInvalidate,
}

impl SetWayOp {
    /// The instruction's name.
    pub fn name(self) -> &'static str {
        match self {
            SetWayOp::Clean => "DC CSW",
            SetWayOp::Invalidate => "DC ISW",
            SetWayOp::CleanInvalidate => "DC CISW",
        }
    }
}

/// The decoded operand of a set/way operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SetWayOperand {
    /// Cache level, 1-based (L1 = 1).
    pub level: u8,
    /// Set index.
    pub set: u32,
    /// Way.
    pub way: u32,
}

/// A consumer of the event stream. The coherency [`crate::Model`] implements it; a
/// memory-cost model can implement it too and be fed the same events by the same front
/// end. Addresses are physical; an access never crosses a line ([`crate::line_pieces`]
/// splits ranges).
pub trait Observer {
    /// A CPU load of `size` bytes at `pa` (virtual address `va`) through a mapping of
    /// type `mem`.
    fn load(&mut self, origin: Origin, pa: u64, va: u64, size: u64, mem: MemType);
    /// A CPU store (`DC ZVA` is a store of its whole block).
    fn store(&mut self, origin: Origin, pa: u64, va: u64, size: u64, mem: MemType);
    /// Maintenance by address on the line holding `pa` (`va` is the operand).
    fn dc_va(&mut self, origin: Origin, op: DcOp, pa: u64, va: u64);
    /// Maintenance by set/way on the issuing CPU's cache.
    fn dc_set_way(&mut self, origin: Origin, op: SetWayOp, operand: SetWayOperand);
    /// A `DSB`; `completes_maintenance` when its domain and type complete maintenance
    /// for observers outside the inner-shareable domain (SY, ST, OSH, OSHST).
    fn dsb(&mut self, origin: Origin, completes_maintenance: bool);
    /// A device was told to read `[pa, pa + len)` (checked now; in flight until
    /// [`Observer::device_read_end`]).
    fn device_read_begin(&mut self, cmd: DevCmd, pa: u64, len: u64);
    /// The device finished reading.
    fn device_read_end(&mut self, cmd: DevCmd, pa: u64, len: u64);
    /// A device was told to write `[pa, pa + len)`; the bytes may land at any time until
    /// [`Observer::device_write_end`].
    fn device_write_begin(&mut self, cmd: DevCmd, pa: u64, len: u64);
    /// The device finished writing.
    fn device_write_end(&mut self, cmd: DevCmd, pa: u64, len: u64);
}
