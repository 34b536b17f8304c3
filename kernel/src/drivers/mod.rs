//! Device drivers that sit on top of the kernel's memory and interrupt services.

pub mod pci;
pub mod virtio;
pub mod virtio_blk;
pub mod virtio_gpu;
