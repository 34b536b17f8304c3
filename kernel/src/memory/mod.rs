//! Memory management: the virtual layout, the kernel's own translation tables, physical
//! frames and the kernel heap.
//!
//! Boot order (see `kernel_main`): the early tables from `boot.S` are replaced by
//! [`kspace::build_and_switch`] (tables from a static pool), then the heap and the frame
//! allocator take the RAM that the FDT lists minus the image, DTB, initrd and firmware
//! reservations.

pub mod frames;
pub mod heap;
pub mod kspace;
pub mod layout;
