//! End-to-end tests of the sanitizer on a simulated guest: page tables, a virtio-gpu on
//! virtio-mmio, CPU stores, maintenance and a transfer, fed through the same entry
//! points the QEMU plugin calls.

mod cost;
mod guest;
mod scenarios;
