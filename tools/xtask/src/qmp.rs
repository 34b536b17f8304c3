//! A minimal QMP (QEMU Machine Protocol) client over a unix socket: connect, read the
//! greeting, leave negotiation mode (`qmp_capabilities`), then run commands one at a
//! time. Only what xtask needs: `stop`, `cont` and `screendump` (PPM; QEMU 7.2 may lack
//! PNG support).

use crate::Result;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long one command may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

/// A connected QMP session in command mode.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connect to the socket QEMU serves at `path` (retrying until `timeout`, since QEMU
    /// creates it shortly after it starts), check the greeting and negotiate
    /// capabilities.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Qmp> {
        let start = Instant::now();
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if start.elapsed() > timeout => {
                    return Err(format!("QMP: connecting to {}: {e}", path.display()))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(|e| format!("QMP: {e}"))?;
        let writer = stream.try_clone().map_err(|e| format!("QMP: {e}"))?;
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(format!("QMP: unexpected greeting {greeting}"));
        }
        qmp.execute("qmp_capabilities", None)?;
        Ok(qmp)
    }

    /// Read one JSON message (QMP sends one per line).
    fn read_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| format!("QMP: reading: {e}"))?;
        if n == 0 {
            return Err("QMP: connection closed by QEMU".into());
        }
        serde_json::from_str(&line).map_err(|e| format!("QMP: bad message {line:?}: {e}"))
    }

    /// Run `command` with `arguments`; returns its `return` value. A QMP `error` reply is
    /// an `Err` with QEMU's description. Asynchronous events received meanwhile are
    /// skipped.
    pub fn execute(&mut self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let mut msg = json!({ "execute": command });
        if let Some(a) = arguments {
            msg["arguments"] = a;
        }
        let mut text = msg.to_string();
        text.push('\n');
        self.writer
            .write_all(text.as_bytes())
            .map_err(|e| format!("QMP: sending {command}: {e}"))?;
        loop {
            let reply = self.read_message()?;
            if let Some(r) = reply.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = reply.get("error") {
                let desc = e.get("desc").and_then(Value::as_str).unwrap_or("?");
                return Err(format!("QMP: {command} failed: {desc}"));
            }
            // Otherwise an event ({"event": ...}): not ours.
        }
    }

    /// Pause the guest's CPUs.
    pub fn stop(&mut self) -> Result<()> {
        self.execute("stop", None).map(drop)
    }

    /// Resume the guest's CPUs.
    pub fn cont(&mut self) -> Result<()> {
        self.execute("cont", None).map(drop)
    }

    /// Write the primary console's current image to `file` as a PPM (P6). QEMU writes
    /// the file itself; it has been written when this returns.
    pub fn screendump(&mut self, file: &Path) -> Result<()> {
        let filename = file
            .to_str()
            .ok_or_else(|| format!("{}: not UTF-8", file.display()))?;
        self.execute("screendump", Some(json!({ "filename": filename })))
            .map(drop)
    }
}
