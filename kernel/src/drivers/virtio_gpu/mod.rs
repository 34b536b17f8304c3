//! virtio-gpu 2D over a modern virtio transport (virtio-mmio or virtio-pci).
//!
//! The kernel imports buffer objects as GPU resources: [`GpuDevice::create_resource`]
//! (RESOURCE_CREATE_2D), [`GpuDevice::attach_backing`] (RESOURCE_ATTACH_BACKING with the
//! buffer's own pages), [`GpuDevice::present`] (TRANSFER_TO_HOST_2D, SET_SCANOUT once,
//! RESOURCE_FLUSH; asynchronous, returns a fence), [`GpuDevice::release`]
//! (DETACH_BACKING, RESOURCE_UNREF). Fences complete from the control queue's used-ring
//! interrupt ([`GpuDevice::handle_irq`]) in order.
//!
//! ## Files
//! - `protocol`: the virtio-gpu command and response structs.
//! - `device`: [`GpuDevice`]: resources, scanout 0, fences; `device::requests`: request
//!   slots on the control queue (staging, notify, polling, completion collection).
//! - `selftest`: an end-to-end check.
//!
//! The transports, the split virtqueue and the DMA memory are shared with the block
//! driver (`crate::drivers::virtio`). Requests on the control queue are
//! descriptor pairs: request `n` is the chain `2n` (device-readable command) -> `2n + 1`
//! (device-writable response).
//!
//! ## Memory and coherency
//! Rings, commands and responses live in `crate::buffer::dma_alloc` memory (Normal
//! non-cacheable), so they need no cache maintenance in any coherency mode. The only
//! cacheable memory the device reads is a resource's backing, which the device reaches
//! by the physical addresses in ATTACH_BACKING, never through the queue: keeping it
//! clean is the buffer manager's job (a task's `buffer_sync` END WRITE), not the
//! driver's.
//!
//! ## Why not the `virtio-drivers` crate
//! virtio-drivers 0.13 was evaluated for the transport and split virtqueue, with a `Hal`
//! over `dma_alloc`/`virt_to_phys`/`maintain_range`. It was not taken:
//! - Asynchronous completion from the interrupt is possible (`VirtQueue::add` returns a
//!   token, `pop_used` takes it later), but `pop_used` must be handed the very
//!   `&[u8]`/`&mut [u8]` slices that were added, so the driver would keep Rust
//!   references to memory the device writes at any time, across calls, and rebuild them
//!   per completion; it pops only in used-ring order (`WrongToken` otherwise).
//! - Its `Hal::share`/`unshare` (the one place the cache maintenance would go) only ever
//!   sees the small command/response buffers, which are already non-cacheable here; the
//!   data the device actually reads (resource backing) goes by physical address inside
//!   the ATTACH_BACKING payload and bypasses the `Hal` entirely. Its own `VirtIOGpu`
//!   allocates its framebuffer itself and cannot back resources with external buffers.
//! - Driver bugs become kernel panics inside it (`assert!`/`expect`/`panic!` in
//!   descriptor recycling, `assert_eq!` on `dma_dealloc` in `Dma::drop`), and
//!   `begin_init` does not check that the device kept FEATURES_OK.
//! - It brings six crates the offline registry cache lacks (zerocopy and its derive,
//!   safe-mmio, thiserror, enumn, embedded-io) for what is ~300 lines here, and its
//!   volatile register accessors replace the kernel's tock-registers convention.

mod device;
mod error;
mod protocol;
#[cfg(feature = "ktest")]
mod selftest;

pub use device::GpuDevice;
pub use error::GpuError;
#[cfg(feature = "ktest")]
pub use selftest::selftest;
