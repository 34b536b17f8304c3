//! Test bodies run in two boots (devices non-coherent, and QEMU's `dma-coherent`
//! honoured): each program states which boot it expects ([`crate::Boot`]) and fails in
//! the other, so a kernel that decides the coherency mode wrongly cannot pass by being
//! asked which mode it is in.
//!
//! [`uci_writer`] is the body of the `uci_san_*` programs the coherency sanitizer runs
//! (the EL0 option of END, honest and not).

pub mod buffer_coherent;
pub mod buffer_trace;
pub mod capture_trace;
pub mod gpu_misuse;
pub mod uci_writer;
