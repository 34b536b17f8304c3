//! Booting the virtio-gpu demo (`init=demo`) or the capture pipeline (`init=pipeline`)
//! and capturing its final image.
//!
//! QEMU runs with a QMP socket. xtask reads the serial output (optionally echoing it);
//! when the compositor prints `demo: final frame N presented` it stops the guest, has
//! QEMU write a screendump (PPM), and lets the guest go on to power off. The image can
//! then be saved as PNG or compared pixel for pixel with what the `scene` crate computes
//! for frame N.

use crate::build;
use crate::qemu::{Machine, QEMU};
use crate::qmp::Qmp;
use crate::Result;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The line the compositor prints once the last frame is on screen (followed by the
/// frame number and ` presented`).
pub const MARKER: &str = "demo: final frame ";

/// The kernel command line of a demo boot (before any extra arguments).
pub const APPEND: &str = "exit=semihosting init=demo dma=noncoherent";

/// The kernel command line of a capture pipeline boot (it needs the capture disk,
/// [`crate::build::capture_disk`]).
pub const PIPELINE_APPEND: &str = "exit=semihosting init=pipeline dma=noncoherent";

/// What a demo boot produced.
pub struct DemoRun {
    /// QEMU's exit status; `None` if it was killed by the timeout.
    pub status: Option<i32>,
    /// Serial output and QEMU's own messages.
    pub output: String,
    /// The frame number of the marker line, if it was seen.
    pub frame: Option<u32>,
    /// The screendump (PPM) taken at the marker, or why there is none.
    pub screendump: std::result::Result<PathBuf, String>,
    /// Wall time.
    pub elapsed: Duration,
}

/// The frame number if `line` is the marker line.
pub fn parse_marker(line: &str) -> Option<u32> {
    let at = line.find(MARKER)?;
    let rest = line[at + MARKER.len()..].trim_end();
    rest.strip_suffix(" presented")?.parse().ok()
}

/// Boot `m` (which must have a QMP socket), take the screendump into `ppm` at the
/// marker, and wait for QEMU to exit (killing it after `timeout`). With `echo`, the
/// serial output goes to this terminal as it arrives (and QEMU's stderr is inherited).
pub fn boot(m: &Machine, ppm: &Path, echo: bool, timeout: Duration) -> Result<DemoRun> {
    let sock = m.qmp.clone().ok_or("demo boot without a QMP socket")?;
    std::fs::create_dir_all(build::out_dir()).map_err(|e| e.to_string())?;
    for stale in [&sock, &ppm.to_path_buf()] {
        let _ = std::fs::remove_file(stale);
    }
    let mut cmd = m.command()?;
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    cmd.stderr(if echo {
        Stdio::inherit()
    } else {
        Stdio::piped()
    });
    let mut child = cmd.spawn().map_err(|e| format!("{QEMU}: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || read_lines(stdout, echo, tx));
    let err_reader = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = e.read_to_end(&mut v);
            v
        })
    });

    let start = Instant::now();
    let mut output = String::new();
    let mut frame = None;
    let mut screendump = Err("the demo never printed its final frame line".to_string());
    let mut on_line = |line: String, alive: bool| {
        if frame.is_none() {
            if let Some(n) = parse_marker(&line) {
                frame = Some(n);
                screendump = if alive {
                    capture(&sock, ppm)
                } else {
                    Err("QEMU exited before the screendump".into())
                };
            }
        }
        output.push_str(&line);
    };
    let status = loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(line) => on_line(line, true),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(20))
            }
        }
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(s.code().unwrap_or(-1));
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
    };
    let _ = reader.join();
    for line in rx.try_iter() {
        on_line(line, false);
    }
    if let Some(t) = err_reader {
        output.push_str(&String::from_utf8_lossy(&t.join().unwrap_or_default()));
    }
    let _ = std::fs::remove_file(&sock);
    Ok(DemoRun {
        status,
        output,
        frame,
        screendump,
        elapsed: start.elapsed(),
    })
}

/// Forward QEMU's stdout as lines (each with its `\n`), echoing the bytes as they come.
fn read_lines(mut from: impl Read, echo: bool, to: mpsc::Sender<String>) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if echo {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&buf[..n]);
            let _ = out.flush();
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(i) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=i).collect();
            let _ = to.send(String::from_utf8_lossy(&line).into_owned());
        }
    }
    if !pending.is_empty() {
        let _ = to.send(String::from_utf8_lossy(&pending).into_owned());
    }
}

/// Stop the guest, screendump into `ppm`, continue the guest (also after a failed
/// screendump, so the boot can end normally).
fn capture(sock: &Path, ppm: &Path) -> std::result::Result<PathBuf, String> {
    let mut qmp = Qmp::connect(sock, Duration::from_secs(5))?;
    qmp.stop()?;
    let shot = qmp.screendump(ppm);
    qmp.cont()?;
    shot?;
    Ok(ppm.to_path_buf())
}

/// An RGB image, 3 bytes per pixel, rows `width * 3` bytes apart.
pub struct Rgb {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixels.
    pub data: Vec<u8>,
}

impl Rgb {
    /// The `[r, g, b]` of pixel `(x, y)`.
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Read a binary PPM (P6, maxval 255), as QEMU's screendump writes it.
    pub fn read_ppm(path: &Path) -> Result<Rgb> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        parse_ppm(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Save as an 8-bit RGB PNG.
    pub fn write_png(&self, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc
            .write_header()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        w.write_image_data(&self.data)
            .and_then(|()| w.finish())
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The image the demo must show for `frame` on a `width` x `height` display:
    /// `composite(frame, render_client(frame))` from the `scene` crate.
    pub fn expected(frame: u32, width: u32, height: u32) -> Rgb {
        let (cw, ch) = (scene::CLIENT_WIDTH, scene::CLIENT_HEIGHT);
        let mut client = vec![0u32; cw as usize * ch as usize];
        scene::render_client(frame, &mut client, cw, ch);
        let mut screen = vec![0u32; width as usize * height as usize];
        scene::composite(frame, &client, cw, ch, &mut screen, width, height);
        Rgb {
            width,
            height,
            data: screen.iter().flat_map(|&p| scene::to_rgb(p)).collect(),
        }
    }

    /// The image the capture pipeline must show for `frame` on a `width` x `height`
    /// display: `pipeline_screen(frame, filter(frame, capture_frame(frame)))` from
    /// `scene::capture`.
    pub fn expected_pipeline(frame: u32, width: u32, height: u32) -> Rgb {
        use scene::capture::{capture_frame, filter, pipeline_screen, CAPTURE_H, CAPTURE_W};
        let n = (CAPTURE_W * CAPTURE_H) as usize;
        let (mut raw, mut filtered) = (vec![0u32; n], vec![0u32; n]);
        capture_frame(frame, &mut raw);
        filter(frame, &raw, &mut filtered, CAPTURE_W, CAPTURE_H);
        let mut screen = vec![0u32; width as usize * height as usize];
        pipeline_screen(frame, &filtered, &mut screen, width, height);
        Rgb {
            width,
            height,
            data: screen.iter().flat_map(|&p| scene::to_rgb(p)).collect(),
        }
    }
}

/// Parse a P6 PPM with maxval 255 (comments allowed in the header).
fn parse_ppm(b: &[u8]) -> std::result::Result<Rgb, String> {
    let mut pos = 0;
    let mut field = || -> std::result::Result<&[u8], String> {
        loop {
            match b.get(pos) {
                Some(c) if c.is_ascii_whitespace() => pos += 1,
                Some(b'#') => {
                    while b.get(pos).is_some_and(|&c| c != b'\n') {
                        pos += 1;
                    }
                }
                Some(_) => break,
                None => return Err("truncated PPM header".into()),
            }
        }
        let start = pos;
        while b.get(pos).is_some_and(|c| !c.is_ascii_whitespace()) {
            pos += 1;
        }
        Ok(&b[start..pos])
    };
    if field()? != b"P6" {
        return Err("not a binary PPM (P6)".into());
    }
    let mut number = |what: &str| -> std::result::Result<u32, String> {
        let f = field()?;
        std::str::from_utf8(f)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad PPM {what} {:?}", String::from_utf8_lossy(f)))
    };
    let width = number("width")?;
    let height = number("height")?;
    let maxval = number("maxval")?;
    if maxval != 255 {
        return Err(format!("PPM maxval {maxval}, expected 255"));
    }
    // Exactly one whitespace byte separates the header from the pixels.
    let data = b.get(pos + 1..).unwrap_or_default();
    let need = width as usize * height as usize * 3;
    if data.len() != need {
        return Err(format!(
            "PPM {width}x{height} has {} bytes of pixels, expected {need}",
            data.len()
        ));
    }
    Ok(Rgb {
        width,
        height,
        data: data.to_vec(),
    })
}

/// The first pixel (row by row) where `got` differs from `want`, and how many differ.
pub fn first_mismatch(got: &Rgb, want: &Rgb) -> Option<((u32, u32), usize)> {
    let mut first = None;
    let mut count = 0;
    for (i, (g, w)) in got
        .data
        .chunks_exact(3)
        .zip(want.data.chunks_exact(3))
        .enumerate()
    {
        if g != w {
            count += 1;
            if first.is_none() {
                let i = i as u32;
                first = Some((i % got.width, i / got.width));
            }
        }
    }
    first.map(|f| (f, count))
}

/// `#rrggbb`.
pub fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A path under the workspace root as the user would type it.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(build::root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_lines() {
        assert_eq!(parse_marker("demo: final frame 60 presented\r\n"), Some(60));
        assert_eq!(parse_marker("x demo: final frame 7 presented"), Some(7));
        assert_eq!(parse_marker("demo: final frame 60"), None);
        assert_eq!(parse_marker("demo: final frame x presented"), None);
    }

    #[test]
    fn ppm_round_trip_and_errors() {
        let mut b = b"P6\n# QEMU screendump\n2 1\n255\n".to_vec();
        b.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        let img = parse_ppm(&b).unwrap();
        assert_eq!((img.width, img.height), (2, 1));
        assert_eq!(img.at(1, 0), [4, 5, 6]);
        assert!(parse_ppm(&b[..b.len() - 1]).is_err());
        assert!(parse_ppm(b"P3\n1 1\n255\n1 2 3").is_err());
        assert!(parse_ppm(b"P6\n1 1\n65535\n123456").is_err());
        assert!(parse_ppm(b"P6\n1").is_err());
    }

    #[test]
    fn expected_image_matches_the_scene_and_mismatches_are_found() {
        let want = Rgb::expected(scene::FRAMES, 1280, 800);
        assert_eq!(want.data.len(), 1280 * 800 * 3);
        assert_eq!(want.at(0, 0), scene::to_rgb(scene::background(0, 800)));
        let mut got = Rgb {
            width: 1280,
            height: 800,
            data: want.data.clone(),
        };
        assert_eq!(first_mismatch(&got, &want), None);
        got.data[(401 * 1280 + 3) * 3 + 1] ^= 1;
        got.data[(500 * 1280) * 3 - 1] ^= 1;
        assert_eq!(first_mismatch(&got, &want), Some(((3, 401), 2)));
    }

    #[test]
    fn expected_pipeline_image_is_the_filtered_capture() {
        use scene::capture::{pipeline_origin, PIPELINE_FRAMES};
        let want = Rgb::expected_pipeline(PIPELINE_FRAMES, 1280, 800);
        assert_eq!(want.data.len(), 1280 * 800 * 3);
        assert_eq!(want.at(0, 0), scene::to_rgb(scene::background(0, 800)));
        let other = Rgb::expected_pipeline(PIPELINE_FRAMES - 1, 1280, 800);
        let (x, y) = pipeline_origin(1280, 800);
        let (x, y) = (x as u32, y as u32);
        let differ = (0..640).filter(|&dx| want.at(x + dx, y + 200) != other.at(x + dx, y + 200));
        assert!(differ.count() > 0, "frames differ inside the image");
        assert!(first_mismatch(&want, &Rgb::expected(PIPELINE_FRAMES, 1280, 800)).is_some());
    }
}
