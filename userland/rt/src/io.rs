//! Console output through the `log` call, formatted into a fixed stack buffer.

use core::fmt;

/// Bytes formatted before a `log` call is made. A `println!` shorter than this reaches
/// the console in one `log` call, so lines from different tasks do not interleave.
pub const BUF_SIZE: usize = 512;

/// A `fmt::Write` that buffers on the stack and flushes to `log` when full and on
/// [`LogWriter::flush`] (also on drop).
pub struct LogWriter {
    buf: [u8; BUF_SIZE],
    len: usize,
}

impl LogWriter {
    /// An empty writer.
    pub const fn new() -> Self {
        LogWriter {
            buf: [0; BUF_SIZE],
            len: 0,
        }
    }

    /// Send whatever is buffered to the console.
    pub fn flush(&mut self) {
        if self.len > 0 {
            let _ = crate::log(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Default for LogWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

impl fmt::Write for LogWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut bytes = s.as_bytes();
        while !bytes.is_empty() {
            if self.len == BUF_SIZE {
                self.flush();
            }
            let n = bytes.len().min(BUF_SIZE - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }
}

/// Write all of `bytes` to the console, in `log` calls of at most
/// [`abi::limits::MAX_LOG`] bytes.
pub fn write_all(bytes: &[u8]) -> crate::Result<()> {
    for chunk in bytes.chunks(abi::limits::MAX_LOG) {
        crate::log(chunk)?;
    }
    Ok(())
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    let mut w = LogWriter::new();
    let _ = fmt::Write::write_fmt(&mut w, args);
    w.flush();
}

/// Print to the console (through the `log` syscall).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::io::_print(::core::format_args!($($arg)*))
    };
}

/// Print a line to the console (through the `log` syscall).
#[macro_export]
macro_rules! println {
    () => {
        $crate::io::_print(::core::format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::io::_print(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}
