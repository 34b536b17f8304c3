//! The capture pipeline's frames: a synthetic camera, the CPU filter, the screen, and the
//! layout of the virtio-blk test disk that holds the camera's frames.
//!
//! Like the rest of the crate: integers only, no allocation, the same bits on the host
//! (xtask writes the disk image and computes the expected screen) and in user tasks
//! (`userland/demo`'s `capture` / `filter`, `userland/bench`'s readback suite, the user
//! tests).
//!
//! # The disk (`target/xtask/capture.img`, raw, 512-byte sectors)
//!
//! | sectors | contents |
//! |---|---|
//! | `[k * SECTORS_PER_FRAME, (k + 1) * SECTORS_PER_FRAME)`, `k` in `0..DISK_FRAMES` | [`capture_frame`]`(k)`: [`CAPTURE_W`] x [`CAPTURE_H`] pixels, `B8G8R8X8` (little-endian `u32` `0x00RRGGBB`), row-major, rows `CAPTURE_W * 4` bytes apart |
//! | `[TEST_SECTOR_BASE, TEST_SECTOR_BASE + TEST_SECTORS)` | [`fill_test_sector`]`(s)` for each sector `s` |
//!
//! [`DISK_SECTORS`] sectors in all; [`disk_sector`] gives the bytes of any sector.
//!
//! # The pipeline
//!
//! Frame `n` of the pipeline (`1..=PIPELINE_FRAMES`) is disk frame `n`: the capture task
//! has the device write it into a buffer, the filter task turns it into
//! [`filter`]`(n, ..)` and shows [`pipeline_screen`]`(n, ..)` of that.

use crate::{background, bounce, rgb, Canvas, BORDER, BORDER_COLOR, DIGIT_COLOR, SHADOW};
use crate::{SHADOW_COLOR, TITLE_COLOR};

/// Width of a captured frame in pixels.
pub const CAPTURE_W: u32 = 320;
/// Height of a captured frame in pixels.
pub const CAPTURE_H: u32 = 200;
/// Bytes per pixel (`B8G8R8X8`).
pub const BYTES_PER_PIXEL: u64 = 4;
/// Bytes in one row of a captured frame.
pub const CAPTURE_STRIDE: u64 = CAPTURE_W as u64 * BYTES_PER_PIXEL;
/// Bytes in a captured frame (whole sectors).
pub const FRAME_BYTES: u64 = CAPTURE_STRIDE * CAPTURE_H as u64;
/// Pixels in a captured frame.
pub const FRAME_PIXELS: usize = (CAPTURE_W * CAPTURE_H) as usize;
/// Bytes per disk sector.
pub const SECTOR_SIZE: u64 = 512;
/// Sectors one frame occupies on the disk.
pub const SECTORS_PER_FRAME: u64 = FRAME_BYTES / SECTOR_SIZE;
/// Frames on the disk (`0..DISK_FRAMES`).
pub const DISK_FRAMES: u64 = 32;
/// Frames the pipeline shows (`1..=PIPELINE_FRAMES`); its last is frame `PIPELINE_FRAMES`.
pub const PIPELINE_FRAMES: u32 = 30;
/// The first sector of the test-pattern region (right after the frames).
pub const TEST_SECTOR_BASE: u64 = DISK_FRAMES * SECTORS_PER_FRAME;
/// Sectors in the test-pattern region (the most one `blk_read` may ask for).
pub const TEST_SECTORS: u64 = 2048;
/// Sectors on the disk.
pub const DISK_SECTORS: u64 = TEST_SECTOR_BASE + TEST_SECTORS;
/// Bytes on the disk.
pub const DISK_BYTES: u64 = DISK_SECTORS * SECTOR_SIZE;

const _: () = assert!(FRAME_BYTES.is_multiple_of(SECTOR_SIZE));
const _: () = assert!((PIPELINE_FRAMES as u64) < DISK_FRAMES);

/// The first sector of disk frame `k`.
pub const fn frame_sector(k: u64) -> u64 {
    k * SECTORS_PER_FRAME
}

/// Word `i` (little-endian `u32`, `i` in `0..128`) of test sector `s`.
pub const fn test_word(sector: u64, i: u32) -> u32 {
    (sector as u32).wrapping_mul(0x0101_0101) ^ 0xA5A5_A5A5 ^ i
}

/// The 512 bytes of test sector `sector`: little-endian `u32` word `i` is
/// `(sector as u32).wrapping_mul(0x0101_0101) ^ 0xA5A5_A5A5 ^ i` ([`test_word`]).
pub fn fill_test_sector(sector: u64, out: &mut [u8; 512]) {
    for (i, w) in out.chunks_exact_mut(4).enumerate() {
        w.copy_from_slice(&test_word(sector, i as u32).to_le_bytes());
    }
}

/// The bytes of disk sector `s`: a slice of a frame, a test sector, or zeros past the end.
pub fn disk_sector(s: u64, out: &mut [u8; 512]) {
    if s < TEST_SECTOR_BASE {
        let k = (s / SECTORS_PER_FRAME) as u32;
        let first = (s % SECTORS_PER_FRAME) * SECTOR_SIZE / BYTES_PER_PIXEL;
        for (i, w) in out.chunks_exact_mut(4).enumerate() {
            let p = first as u32 + i as u32;
            let px = capture_pixel(k, p % CAPTURE_W, p / CAPTURE_W);
            w.copy_from_slice(&px.to_le_bytes());
        }
    } else if s < DISK_SECTORS {
        fill_test_sector(s, out);
    } else {
        out.fill(0);
    }
}

/// Radius of the camera's ball in pixels.
pub const BALL_RADIUS: u32 = 28;
/// Row of the horizon in a captured frame.
pub const HORIZON: u32 = CAPTURE_H * 3 / 5;
/// Side of a floor tile in pixels.
pub const TILE: u32 = 20;

/// Centre of the ball in frame `k`: it bounces 7 pixels right and 5 down per frame.
pub fn ball(k: u32) -> (u32, u32) {
    let d = 2 * BALL_RADIUS;
    let x = bounce(u64::from(k) * 7, u64::from(CAPTURE_W - d)) as u32 + BALL_RADIUS;
    let y = bounce(u64::from(k) * 5, u64::from(CAPTURE_H - d)) as u32 + BALL_RADIUS;
    (x, y)
}

/// Sensor noise of pixel `(x, y)` in frame `k`: -8..=7, a hash of the three.
fn noise(k: u32, x: u32, y: u32) -> i32 {
    let mut h =
        k.wrapping_mul(0x9e37_79b1) ^ x.wrapping_mul(0x85eb_ca77) ^ y.wrapping_mul(0xc2b2_ae3d);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    (h & 15) as i32 - 8
}

fn add(c: u32, d: i32) -> u32 {
    (c as i32 + d).clamp(0, 255) as u32
}

/// Pixel `(x, y)` of the synthetic camera's frame `k` (a [`CAPTURE_W`] x [`CAPTURE_H`]
/// image): a sky gradient above the [`HORIZON`], a floor of [`TILE`]-pixel tiles
/// scrolling 4 pixels left per frame below it, a shaded red ball bouncing around
/// ([`ball`]), and a little sensor noise on everything.
pub fn capture_pixel(k: u32, x: u32, y: u32) -> u32 {
    let (bx, by) = ball(k);
    let (dx, dy) = (i64::from(x) - i64::from(bx), i64::from(y) - i64::from(by));
    let d2 = (dx * dx + dy * dy) as u64;
    let r2 = u64::from(BALL_RADIUS * BALL_RADIUS);
    let (r, g, b) = if d2 <= r2 {
        // Lit from the top left: brighter towards (-r/3, -r/3) of the centre.
        let (lx, ly) = (
            dx + i64::from(BALL_RADIUS / 3),
            dy + i64::from(BALL_RADIUS / 3),
        );
        let l2 = (lx * lx + ly * ly) as u64;
        let shade = 255 - (l2 * 160 / (4 * r2)).min(160) as u32;
        (shade, shade * 60 / 255, shade * 20 / 255)
    } else if y < HORIZON {
        let t = y * 255 / HORIZON;
        (0x40 + t / 4, 0x80 + t / 4, 0xf0 - t / 8)
    } else {
        let u = x + k.wrapping_mul(4);
        let dark = ((u / TILE) + (y / TILE)).is_multiple_of(2);
        let depth = (y - HORIZON) * 64 / (CAPTURE_H - HORIZON);
        if dark {
            (0x20 + depth, 0x50 + depth, 0x20)
        } else {
            (0x90 + depth, 0xc0 + depth / 2, 0x60)
        }
    };
    let n = noise(k, x, y);
    rgb(add(r, n), add(g, n), add(b, n))
}

/// Draw the camera's frame `k` into `out` ([`CAPTURE_W`] x [`CAPTURE_H`], row-major): the
/// pixels disk frame `k` holds. A shorter `out` gets the rows that fit.
pub fn capture_frame(k: u32, out: &mut [u32]) {
    for (i, px) in out.iter_mut().take(FRAME_PIXELS).enumerate() {
        let i = i as u32;
        *px = capture_pixel(k, i % CAPTURE_W, i / CAPTURE_W);
    }
}

/// Luma of a pixel (BT.601 weights in 8-bit fixed point): 0..=255.
pub fn luma(p: u32) -> u32 {
    let (r, g, b) = ((p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff);
    (77 * r + 150 * g + 29 * b) >> 8
}

/// Edge strength at or above which [`filter`] marks a pixel as an edge.
pub const EDGE_THRESHOLD: u32 = 128;
/// Colour of edge pixels in the filtered image.
pub const EDGE_COLOR: u32 = rgb(0xff, 0xf0, 0x40);

/// The tint of frame `n`'s non-edge pixels: `luma -> colour`, cycling every 10 frames
/// through sepia, cyan and green.
pub fn tint(n: u32, y: u32) -> u32 {
    match (n / 10) % 3 {
        0 => rgb(y, y * 200 / 255, y * 140 / 255),
        1 => rgb(y * 90 / 255, y * 220 / 255, y),
        _ => rgb(y * 100 / 255, y, y * 120 / 255),
    }
}

/// The CPU filter: `out` = `inp` (a `w` x `h` image) mirrored left to right (a selfie
/// camera), with every pixel whose Sobel edge strength (`|gx| + |gy|` of the luma, edges
/// of the image clamped) is at least [`EDGE_THRESHOLD`] drawn in [`EDGE_COLOR`] and the
/// rest in [`tint`]`(n, luma)`. Pixels that do not fit `inp` or `out` are left alone.
pub fn filter(n: u32, inp: &[u32], out: &mut [u32], w: u32, h: u32) {
    let (wu, hu) = (w as usize, h as usize);
    if wu == 0 || hu == 0 || inp.len() < wu * hu {
        return;
    }
    let l = |x: usize, y: usize| luma(inp[y * wu + x]) as i32;
    for (y, row) in out.chunks_exact_mut(wu).take(hu).enumerate() {
        let (ya, yb) = (y.saturating_sub(1), (y + 1).min(hu - 1));
        for (x, px) in row.iter_mut().enumerate() {
            let sx = wu - 1 - x;
            let (xa, xb) = (sx.saturating_sub(1), (sx + 1).min(wu - 1));
            let gx =
                (l(xb, ya) + 2 * l(xb, y) + l(xb, yb)) - (l(xa, ya) + 2 * l(xa, y) + l(xa, yb));
            let gy =
                (l(xa, yb) + 2 * l(sx, yb) + l(xb, yb)) - (l(xa, ya) + 2 * l(sx, ya) + l(xb, ya));
            let edge = gx.unsigned_abs() + gy.unsigned_abs();
            *px = if edge >= EDGE_THRESHOLD {
                EDGE_COLOR
            } else {
                tint(n, l(sx, y) as u32)
            };
        }
    }
}

/// How much [`pipeline_screen`] enlarges the filtered frame (each pixel a square).
pub const SCALE: u32 = 2;

/// Where [`pipeline_screen`] puts the filtered image on a `width` x `height` screen:
/// `(x, y)` of its top-left corner (negative if the screen is too small; drawing clips).
pub fn pipeline_origin(width: u32, height: u32) -> (i64, i64) {
    let (iw, ih) = (i64::from(CAPTURE_W * SCALE), i64::from(CAPTURE_H * SCALE));
    (
        (i64::from(width) - iw).div_euclid(2),
        (i64::from(height) - ih).div_euclid(2),
    )
}

/// The pipeline's screen for frame `n`: the [`background`] gradient, a bordered frame
/// with a drop shadow holding `filtered` (a [`CAPTURE_W`] x [`CAPTURE_H`] image) enlarged
/// [`SCALE`] times at [`pipeline_origin`], and a title strip above it with `n` in block
/// digits, right-aligned. Every pixel of `out` that fits `width * height` is written.
pub fn pipeline_screen(n: u32, filtered: &[u32], out: &mut [u32], width: u32, height: u32) {
    if width == 0 {
        return;
    }
    let rows = (height as usize).min(out.len() / width as usize) as u32;
    let mut c = Canvas {
        px: out,
        width,
        rows,
    };
    for y in 0..rows {
        c.fill(0, i64::from(y), width, 1, background(y, height));
    }
    let (x, y) = pipeline_origin(width, height);
    let (iw, ih) = (CAPTURE_W * SCALE, CAPTURE_H * SCALE);
    let b = i64::from(BORDER);
    let strip = crate::DIGIT_HEIGHT + 8;
    let (fx, fy) = (x - b, y - b - i64::from(strip));
    let (fw, fh) = (iw + 2 * BORDER, ih + 2 * BORDER + strip);
    let s = i64::from(SHADOW);
    c.fill(fx + s, fy + s, fw, fh, SHADOW_COLOR);
    c.fill(fx, fy, fw, fh, BORDER_COLOR);
    c.fill(x, fy + b, iw, strip - BORDER, TITLE_COLOR);
    c.number(n, x + i64::from(iw) - 6, fy + b + 2, DIGIT_COLOR);
    c.blit_scaled(filtered, CAPTURE_W, CAPTURE_H, x, y, SCALE);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn frame(k: u32) -> Vec<u32> {
        let mut v = vec![0xdead_beef; FRAME_PIXELS];
        capture_frame(k, &mut v);
        v
    }

    fn filtered(n: u32) -> Vec<u32> {
        let mut out = vec![0xdead_beef; FRAME_PIXELS];
        filter(n, &frame(n), &mut out, CAPTURE_W, CAPTURE_H);
        out
    }

    #[test]
    fn layout_constants() {
        assert_eq!(FRAME_BYTES, 256_000);
        assert_eq!(SECTORS_PER_FRAME, 500);
        assert_eq!(TEST_SECTOR_BASE, 16_000);
        assert_eq!(DISK_SECTORS, 18_048);
        assert_eq!(frame_sector(3), 1500);
    }

    #[test]
    fn test_sector_formula() {
        let mut s = [0u8; 512];
        fill_test_sector(TEST_SECTOR_BASE + 5, &mut s);
        let word =
            |i: usize| u32::from_le_bytes([s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]]);
        let base = 16_005u32.wrapping_mul(0x0101_0101) ^ 0xa5a5_a5a5;
        assert_eq!(word(0), base);
        assert_eq!(word(127), base ^ 127);
        // Spelled out: 16005 = 0x3e85, * 0x01010101 = 0xc3c3_c385 (mod 2^32).
        assert_eq!(word(0), 0x6666_6620);
        assert_eq!(word(1), 0x6666_6621);
        let mut d = [0u8; 512];
        disk_sector(TEST_SECTOR_BASE + 5, &mut d);
        assert_eq!(d, s);
        disk_sector(DISK_SECTORS, &mut d);
        assert_eq!(d, [0; 512]);
    }

    #[test]
    fn disk_sectors_hold_the_frames() {
        let f = frame(7);
        let mut bytes = Vec::new();
        for s in frame_sector(7)..frame_sector(8) {
            let mut b = [0u8; 512];
            disk_sector(s, &mut b);
            bytes.extend_from_slice(&b);
        }
        let px: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(px, f);
    }

    #[test]
    fn camera_is_deterministic_animated_and_in_range() {
        assert_eq!(frame(3), frame(3));
        assert_ne!(frame(3), frame(4));
        assert!(frame(9).iter().all(|&p| p >> 24 == 0));
        // The ball: centre red, starts at (28, 28) and moves (7, 5) per frame.
        assert_eq!(ball(0), (28, 28));
        assert_eq!(ball(1), (35, 33));
        let f = frame(0);
        let c = f[(28 * CAPTURE_W + 28) as usize];
        assert!(c >> 16 & 0xff > 0xc0 && c & 0xff < 0x40, "{c:#x}");
        // Sky is blue, the floor green.
        let sky = f[(5 * CAPTURE_W + 300) as usize];
        assert!(sky & 0xff > 0xd0, "{sky:#x}");
        let floor = f[(190 * CAPTURE_W + 300) as usize];
        assert!(floor >> 8 & 0xff > floor >> 16 & 0xff, "{floor:#x}");
        // The floor scrolls: 5 frames move it one tile.
        let y = HORIZON + 5;
        let tile = |k: u32, x: u32| ((x + 4 * k) / TILE + y / TILE) % 2;
        assert_eq!(tile(5, 100), tile(0, 120));
    }

    #[test]
    fn filter_mirrors_tints_and_finds_edges() {
        let n = 12;
        let inp = frame(n);
        let out = filtered(n);
        assert!(out.iter().all(|&p| p != 0xdead_beef && p >> 24 == 0));
        // A flat region: no edge, the tint of the mirrored pixel's luma.
        let (x, y) = (300u32, 3u32);
        let src = inp[(y * CAPTURE_W + (CAPTURE_W - 1 - x)) as usize];
        let got = out[(y * CAPTURE_W + x) as usize];
        assert!(got == tint(n, luma(src)) || got == EDGE_COLOR);
        // The horizon is an edge all along.
        let edges = (0..CAPTURE_W)
            .filter(|&x| out[(HORIZON * CAPTURE_W + x) as usize] == EDGE_COLOR)
            .count();
        assert!(edges > CAPTURE_W as usize / 2, "{edges} horizon edges");
        // The ball's rim is an edge, mirrored: ball(n) = (112, 88) -> mirrored x 207.
        let (bx, by) = ball(n);
        let mx = CAPTURE_W - 1 - bx;
        let rim =
            (0..6).any(|d| out[(by * CAPTURE_W + mx + BALL_RADIUS - 3 + d) as usize] == EDGE_COLOR);
        assert!(rim);
        // The tint changes with n (every 10 frames).
        assert_ne!(tint(5, 200), tint(15, 200));
        assert_ne!(filtered(9), filtered(10));
        // Short or empty inputs do nothing and never panic.
        let mut o = vec![1u32; 10];
        filter(n, &inp[..5], &mut o, CAPTURE_W, CAPTURE_H);
        assert_eq!(o, vec![1; 10]);
        filter(n, &inp, &mut o, 0, 0);
        filter(n, &inp, &mut [], CAPTURE_W, CAPTURE_H);
        let mut small = vec![0u32; 6];
        filter(
            n,
            &[0, 0xffffff, 0, 0xffffff, 0, 0xffffff],
            &mut small,
            1,
            6,
        );
        filter(n, &[0, 0xffffff, 0], &mut small, 3, 1);
    }

    #[test]
    fn screen_places_the_filtered_frame() {
        let (w, h) = (1280u32, 800u32);
        let f = filtered(PIPELINE_FRAMES);
        let mut s = vec![0xdead_beef; (w * h) as usize];
        pipeline_screen(PIPELINE_FRAMES, &f, &mut s, w, h);
        assert!(s.iter().all(|&p| p >> 24 == 0));
        let (x, y) = pipeline_origin(w, h);
        assert_eq!((x, y), (320, 200));
        let at = |x: i64, y: i64| s[y as usize * w as usize + x as usize];
        for (fx, fy) in [(0i64, 0i64), (319, 199), (100, 50)] {
            let want = f[(fy * 320 + fx) as usize];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                assert_eq!(at(x + 2 * fx + dx, y + 2 * fy + dy), want);
            }
        }
        assert_eq!(at(0, 0), background(0, h));
        assert_eq!(at(x - 1, y), BORDER_COLOR);
        assert_eq!(at(x + 640, y + 400), BORDER_COLOR);
        assert_eq!(at(x + 640 + 4 + 4, y + 400 + 4 + 4), SHADOW_COLOR);
        // The strip above holds the frame number: some digit pixels.
        let digits = (0..640)
            .flat_map(|dx| (0..20).map(move |dy| (dx, dy)))
            .filter(|&(dx, dy)| at(x + dx, y - 26 + dy) == DIGIT_COLOR)
            .count();
        assert!(digits > 20, "{digits}");
        let mut s2 = vec![0; (w * h) as usize];
        pipeline_screen(PIPELINE_FRAMES - 1, &f, &mut s2, w, h);
        assert_ne!(s, s2, "the frame number shows");
        // Clipping never panics.
        for (w, h) in [(0, 0), (1, 1), (100, 50), (700, 480)] {
            let mut o = vec![0; (w * h) as usize];
            pipeline_screen(1, &f, &mut o, w, h);
            pipeline_screen(1, &f[..100], &mut o, w, h);
            let mut short = vec![0; (w * h) as usize / 3];
            pipeline_screen(1, &f, &mut short, w, h);
        }
    }
}
