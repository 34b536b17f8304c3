//! Test bodies run in two boots (devices non-coherent, and QEMU's `dma-coherent`
//! honoured): each program states which boot it expects ([`crate::Boot`]) and fails in
//! the other, so a kernel that decides the coherency mode wrongly cannot pass by being
//! asked which mode it is in.

pub mod buffer_coherent;
pub mod buffer_trace;
pub mod capture_trace;
pub mod gpu_misuse;
