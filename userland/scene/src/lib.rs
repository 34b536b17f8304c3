//! The demo's scene: what the client task draws and what the compositor task makes of it.
//!
//! Both user tasks (`userland/demo`) and the host (`cargo xtask`, which computes the image
//! it expects QEMU's screendump to show) link this crate, so everything here is integer
//! arithmetic on `u32`/`u64` with wrapping where a frame number could overflow: no floats
//! (user and kernel code are softfloat), no allocation, no dependence on the target. The
//! same `(frame, sizes)` give the same pixels bit for bit everywhere.
//!
//! Pixels are `B8G8R8X8` (virtio-gpu format 2, `abi::format::B8G8R8X8`): bytes B, G, R, X
//! in memory, so a little-endian `u32` is `0x00RRGGBB`. Images are row-major with rows
//! `width` pixels apart. Every function clips to the slices it is given: a slice shorter
//! than `width * height` is drawn as far as it goes, and nothing ever panics.
//!
//! - [`render_client`]: the client's frame: a horizontal red / vertical green gradient,
//!   diagonal blue bands moving with the frame, and a bouncing square.
//! - [`capture`]: the capture pipeline's camera frames, filter and screen, and the layout
//!   of its virtio-blk test disk.
//! - [`composite`]: the compositor's screen: a vertical gradient background, a window
//!   (shadow, border, title bar with a progress bar and the frame number in block digits)
//!   centred on the screen ([`layout`]), with the client image inside it.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod capture;

/// Frames the demo shows; the last one is frame `FRAMES` (frames count from 1).
pub const FRAMES: u32 = 60;
/// Width of the client's buffers in pixels.
pub const CLIENT_WIDTH: u32 = 640;
/// Height of the client's buffers in pixels.
pub const CLIENT_HEIGHT: u32 = 400;
/// Width of the window border in pixels.
pub const BORDER: u32 = 4;
/// Height of the title bar (inside the border, above the client image) in pixels.
pub const TITLE_HEIGHT: u32 = 32;
/// Offset of the window's drop shadow (right and down) in pixels.
pub const SHADOW: u32 = 8;
/// Each cell of the 3x5 digit font is a `DIGIT_SCALE` square of pixels.
pub const DIGIT_SCALE: u32 = 4;

/// Window border colour.
pub const BORDER_COLOR: u32 = rgb(0xc0, 0xc8, 0xd0);
/// Title bar colour.
pub const TITLE_COLOR: u32 = rgb(0x28, 0x50, 0x90);
/// Colour of the frame number digits.
pub const DIGIT_COLOR: u32 = rgb(0xff, 0xff, 0xff);
/// Progress bar track (the part not yet done).
pub const TRACK_COLOR: u32 = rgb(0x18, 0x30, 0x58);
/// Progress bar (the frames done).
pub const PROGRESS_COLOR: u32 = rgb(0x60, 0xc0, 0xff);
/// Drop shadow colour.
pub const SHADOW_COLOR: u32 = rgb(0x08, 0x0c, 0x18);
/// The bouncing square's fill.
pub const SQUARE_COLOR: u32 = rgb(0xff, 0xd0, 0x40);
/// The bouncing square's outline.
pub const SQUARE_EDGE_COLOR: u32 = rgb(0x20, 0x10, 0x00);

/// A `B8G8R8X8` pixel (`0x00RRGGBB`) from its channels (each taken modulo 256).
pub const fn rgb(r: u32, g: u32, b: u32) -> u32 {
    ((r & 0xff) << 16) | ((g & 0xff) << 8) | (b & 0xff)
}

/// The `[r, g, b]` bytes of a `B8G8R8X8` pixel (as a PPM or PNG stores them).
pub const fn to_rgb(p: u32) -> [u8; 3] {
    [(p >> 16) as u8, (p >> 8) as u8, p as u8]
}

/// A triangle wave: `t` bounced between 0 and `range` (inclusive), period `2 * range`.
fn bounce(t: u64, range: u64) -> u64 {
    if range == 0 {
        return 0;
    }
    let p = t % (2 * range);
    if p <= range {
        p
    } else {
        2 * range - p
    }
}

/// The bouncing square of `frame` in a `width` x `height` client image: `(x, y, side)`
/// of its top-left corner and side (a fifth of the shorter dimension; 0 = no square).
/// It moves 13 pixels right and 9 down per frame, bouncing off the edges.
pub fn square(frame: u32, width: u32, height: u32) -> (u32, u32, u32) {
    let side = width.min(height) / 5;
    let x = bounce(u64::from(frame) * 13, u64::from(width - side));
    let y = bounce(u64::from(frame) * 9, u64::from(height - side));
    (x as u32, y as u32, side)
}

/// Pixel `(x, y)` of the client's background for `frame` in a `width` x `height` image:
/// red rises left to right, green top to bottom, and blue alternates 0x40 / 0xc0 in
/// diagonal bands 24 pixels wide that move 8 pixels per frame.
pub fn client_background(frame: u32, x: u32, y: u32, width: u32, height: u32) -> u32 {
    let r = (u64::from(x) * 256 / u64::from(width.max(1))) as u32;
    let g = (u64::from(y) * 256 / u64::from(height.max(1))) as u32;
    let phase = u64::from(x) + 2 * u64::from(y) + u64::from(frame) * 8;
    let b = if (phase / 24) % 2 == 0 { 0x40 } else { 0xc0 };
    rgb(r, g, b)
}

/// Draw the client's frame `frame` into `buf`, a `width` x `height` image: the moving
/// gradient and bands of [`client_background`] with the bouncing [`square`] (outlined
/// 3 pixels wide) on top.
pub fn render_client(frame: u32, buf: &mut [u32], width: u32, height: u32) {
    let w = width as usize;
    if w == 0 {
        return;
    }
    let rows = (height as usize).min(buf.len() / w);
    let (sx, sy, side) = square(frame, width, height);
    let edge = 3.min(side / 2);
    for (y, row) in buf.chunks_exact_mut(w).take(rows).enumerate() {
        let y = y as u32;
        for (x, px) in row.iter_mut().enumerate() {
            *px = client_background(frame, x as u32, y, width, height);
        }
        if side > 0 && y >= sy && y < sy + side {
            let span = &mut row[sx as usize..(sx + side) as usize];
            let on_edge = y < sy + edge || y >= sy + side - edge;
            for (i, px) in span.iter_mut().enumerate() {
                let i = i as u32;
                *px = if on_edge || i < edge || i >= side - edge {
                    SQUARE_EDGE_COLOR
                } else {
                    SQUARE_COLOR
                };
            }
        }
    }
}

/// Where [`composite`] puts the window on a `width` x `height` screen for a `cw` x `ch`
/// client image. Coordinates may be negative (or beyond the screen) when the screen is
/// smaller than the window; drawing clips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Left edge of the window (outside of the border).
    pub x: i64,
    /// Top edge of the window (outside of the border).
    pub y: i64,
    /// Window width including the border: `cw + 2 * BORDER`.
    pub w: u32,
    /// Window height including border and title bar: `ch + TITLE_HEIGHT + 2 * BORDER`.
    pub h: u32,
    /// Left edge of the client image.
    pub client_x: i64,
    /// Top edge of the client image.
    pub client_y: i64,
}

/// The window's place: centred on the screen.
pub fn layout(width: u32, height: u32, cw: u32, ch: u32) -> Layout {
    let w = cw.saturating_add(2 * BORDER);
    let h = ch.saturating_add(TITLE_HEIGHT + 2 * BORDER);
    let x = (i64::from(width) - i64::from(w)).div_euclid(2);
    let y = (i64::from(height) - i64::from(h)).div_euclid(2);
    Layout {
        x,
        y,
        w,
        h,
        client_x: x + i64::from(BORDER),
        client_y: y + i64::from(BORDER + TITLE_HEIGHT),
    }
}

/// The background of the compositor's screen at row `y` of `height`: a vertical
/// gradient from dark navy to teal-blue (constant along a row).
pub fn background(y: u32, height: u32) -> u32 {
    let h = u64::from(height.max(1));
    let y = u64::from(y);
    rgb(
        0x10,
        (0x18 + y * 0x30 / h) as u32,
        (0x30 + y * 0x60 / h) as u32,
    )
}

/// The 3x5 block font: one row per entry, bit 2 = left column.
const FONT: [[u8; 5]; 10] = [
    [0b111, 0b101, 0b101, 0b101, 0b111],
    [0b010, 0b110, 0b010, 0b010, 0b111],
    [0b111, 0b001, 0b111, 0b100, 0b111],
    [0b111, 0b001, 0b111, 0b001, 0b111],
    [0b101, 0b101, 0b111, 0b001, 0b001],
    [0b111, 0b100, 0b111, 0b001, 0b111],
    [0b111, 0b100, 0b111, 0b101, 0b111],
    [0b111, 0b001, 0b010, 0b010, 0b010],
    [0b111, 0b101, 0b111, 0b101, 0b111],
    [0b111, 0b101, 0b111, 0b001, 0b111],
];

/// Width of one digit in pixels.
pub const DIGIT_WIDTH: u32 = 3 * DIGIT_SCALE;
/// Height of one digit in pixels.
pub const DIGIT_HEIGHT: u32 = 5 * DIGIT_SCALE;
/// Horizontal distance between the left edges of neighbouring digits.
pub const DIGIT_ADVANCE: u32 = DIGIT_WIDTH + DIGIT_SCALE;

/// The decimal digits of `n`, most significant first, in a fixed array with their count.
fn decimal(mut n: u32) -> ([u8; 10], usize) {
    let mut d = [0u8; 10];
    let mut len = 0;
    loop {
        d[len] = (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    d[..len].reverse();
    (d, len)
}

/// An image being drawn: `rows` complete rows of `width` pixels (clipped to the slice).
struct Canvas<'a> {
    px: &'a mut [u32],
    width: u32,
    rows: u32,
}

impl Canvas<'_> {
    /// Fill the rectangle `[x, x + w) x [y, y + h)`, clipped to the canvas.
    fn fill(&mut self, x: i64, y: i64, w: u32, h: u32, color: u32) {
        let x0 = x.clamp(0, i64::from(self.width)) as usize;
        let x1 = (x + i64::from(w)).clamp(0, i64::from(self.width)) as usize;
        let y0 = y.clamp(0, i64::from(self.rows)) as usize;
        let y1 = (y + i64::from(h)).clamp(0, i64::from(self.rows)) as usize;
        if x0 >= x1 {
            return;
        }
        let stride = self.width as usize;
        for row in y0..y1 {
            self.px[row * stride + x0..row * stride + x1].fill(color);
        }
    }

    /// Copy a `cw`-wide image (as many whole rows of `src` as there are, at most `ch`) with
    /// its top-left corner at `(x, y)`, clipped to the canvas.
    fn blit(&mut self, src: &[u32], cw: u32, ch: u32, x: i64, y: i64) {
        if cw == 0 {
            return;
        }
        let src_rows = (ch as usize).min(src.len() / cw as usize);
        let x0 = x.clamp(0, i64::from(self.width));
        let x1 = (x + i64::from(cw)).clamp(0, i64::from(self.width));
        if x0 >= x1 {
            return;
        }
        let (sx, n) = ((x0 - x) as usize, (x1 - x0) as usize);
        let stride = self.width as usize;
        for (r, line) in src.chunks_exact(cw as usize).take(src_rows).enumerate() {
            let dy = y + r as i64;
            if dy < 0 || dy >= i64::from(self.rows) {
                continue;
            }
            let at = dy as usize * stride + x0 as usize;
            self.px[at..at + n].copy_from_slice(&line[sx..sx + n]);
        }
    }

    /// Copy a `cw` x `ch` image (as many whole rows of `src` as there are) enlarged
    /// `scale` times (each pixel a `scale` x `scale` square) with its top-left corner at
    /// `(x, y)`, clipped to the canvas.
    fn blit_scaled(&mut self, src: &[u32], cw: u32, ch: u32, x: i64, y: i64, scale: u32) {
        if cw == 0 || scale == 0 {
            return;
        }
        let src_rows = (ch as usize).min(src.len() / cw as usize);
        let s = i64::from(scale);
        let x0 = x.clamp(0, i64::from(self.width));
        let x1 = (x + i64::from(cw) * s).clamp(0, i64::from(self.width));
        if x0 >= x1 {
            return;
        }
        let stride = self.width as usize;
        for (r, line) in src.chunks_exact(cw as usize).take(src_rows).enumerate() {
            for sub in 0..s {
                let dy = y + r as i64 * s + sub;
                if dy < 0 || dy >= i64::from(self.rows) {
                    continue;
                }
                let at = dy as usize * stride;
                for dx in x0..x1 {
                    self.px[at + dx as usize] = line[((dx - x) / s) as usize];
                }
            }
        }
    }

    /// Draw `n` in block digits with its top-right corner at `(right, y)`.
    fn number(&mut self, n: u32, right: i64, y: i64, color: u32) {
        let (digits, len) = decimal(n);
        let mut x = right - i64::from(len as u32 * DIGIT_ADVANCE - DIGIT_SCALE);
        for &d in &digits[..len] {
            for (row, bits) in FONT[usize::from(d)].iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) != 0 {
                        self.fill(
                            x + i64::from(col * DIGIT_SCALE),
                            y + (row as i64) * i64::from(DIGIT_SCALE),
                            DIGIT_SCALE,
                            DIGIT_SCALE,
                            color,
                        );
                    }
                }
            }
            x += i64::from(DIGIT_ADVANCE);
        }
    }
}

/// Where the title bar's frame number ends (its right edge, exclusive) and starts (its
/// top), for a window at `l`.
pub fn counter_origin(l: &Layout) -> (i64, i64) {
    let right = l.x + i64::from(l.w) - i64::from(BORDER + 8);
    let top = l.y + i64::from(BORDER + (TITLE_HEIGHT - DIGIT_HEIGHT) / 2);
    (right, top)
}

/// The title bar's progress bar for a window at `l`: `(x, y, width, height)` of its track;
/// the first `width * min(frame, FRAMES) / FRAMES` pixels of it are [`PROGRESS_COLOR`].
pub fn progress_track(l: &Layout) -> (i64, i64, u32, u32) {
    let x = l.x + i64::from(BORDER + 8);
    let y = l.y + i64::from(BORDER + (TITLE_HEIGHT - 8) / 2);
    // Leave room for six digits on the right.
    let w =
        l.w.saturating_sub(2 * BORDER + 8 + 8 + 6 * DIGIT_ADVANCE + 8);
    (x, y, w, 8)
}

/// Draw the compositor's screen for `frame` into `out`, a `width` x `height` image: the
/// [`background`], then the window at [`layout`] (drop shadow, border, title bar with the
/// progress bar and `frame` in block digits, right-aligned) with `client`, a `cw` x `ch`
/// image, inside it. Every pixel of `out` that fits `width * height` is written.
pub fn composite(
    frame: u32,
    client: &[u32],
    cw: u32,
    ch: u32,
    out: &mut [u32],
    width: u32,
    height: u32,
) {
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
    let l = layout(width, height, cw, ch);
    let s = i64::from(SHADOW);
    c.fill(l.x + s, l.y + s, l.w, l.h, SHADOW_COLOR);
    c.fill(l.x, l.y, l.w, l.h, BORDER_COLOR);
    let b = i64::from(BORDER);
    c.fill(l.x + b, l.y + b, cw, TITLE_HEIGHT, TITLE_COLOR);
    let (tx, ty, tw, th) = progress_track(&l);
    c.fill(tx, ty, tw, th, TRACK_COLOR);
    let done = (u64::from(tw) * u64::from(frame.min(FRAMES)) / u64::from(FRAMES)) as u32;
    c.fill(tx, ty, done, th, PROGRESS_COLOR);
    let (right, top) = counter_origin(&l);
    c.number(frame, right, top, DIGIT_COLOR);
    c.blit(client, cw, ch, l.client_x, l.client_y);
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const W: u32 = 1280;
    const H: u32 = 800;

    fn client(frame: u32) -> Vec<u32> {
        let mut v = vec![0xdead_beef; (CLIENT_WIDTH * CLIENT_HEIGHT) as usize];
        render_client(frame, &mut v, CLIENT_WIDTH, CLIENT_HEIGHT);
        v
    }

    fn screen(frame: u32) -> Vec<u32> {
        let c = client(frame);
        let mut out = vec![0xdead_beef; (W * H) as usize];
        composite(frame, &c, CLIENT_WIDTH, CLIENT_HEIGHT, &mut out, W, H);
        out
    }

    fn at(img: &[u32], width: u32, x: i64, y: i64) -> u32 {
        img[y as usize * width as usize + x as usize]
    }

    #[test]
    fn deterministic_and_animated() {
        assert_eq!(client(17), client(17));
        assert_eq!(screen(FRAMES), screen(FRAMES));
        assert_ne!(client(1), client(2));
        assert_ne!(screen(1), screen(2));
        // Every pixel is written (no sentinel survives) and X bits stay clear.
        for img in [client(5), screen(5)] {
            assert!(img.iter().all(|&p| p >> 24 == 0));
        }
    }

    #[test]
    fn client_pixels() {
        // Frame 0: the square sits in the top-left corner, 80 pixels wide.
        assert_eq!(square(0, 640, 400), (0, 0, 80));
        assert_eq!(square(1, 640, 400), (13, 9, 80));
        // x 13 * 60 = 780 bounces off 560 back to 340; y 540 bounces off 320 to 100.
        assert_eq!(square(60, 640, 400), (340, 100, 80));
        let c = client(0);
        assert_eq!(at(&c, 640, 0, 0), SQUARE_EDGE_COLOR);
        assert_eq!(at(&c, 640, 40, 40), SQUARE_COLOR);
        assert_eq!(at(&c, 640, 79, 40), SQUARE_EDGE_COLOR);
        // Outside the square: r = 100 * 256 / 640 = 40, g = 0, phase 100 -> band 4 (even).
        assert_eq!(at(&c, 640, 100, 0), 0x28_00_40);
        // (639, 399): r = 255, g = 399 * 256 / 400 = 255, phase 1437 -> band 59 (odd).
        assert_eq!(at(&c, 640, 639, 399), 0xff_ff_c0);
        // Frame 3 moves the bands by 24: the same pixel switches band.
        assert_eq!(at(&client(3), 640, 639, 399), 0xff_ff_40);
    }

    #[test]
    fn composite_pixels() {
        let s = screen(FRAMES);
        let l = layout(W, H, CLIENT_WIDTH, CLIENT_HEIGHT);
        assert_eq!(
            l,
            Layout {
                x: 316,
                y: 180,
                w: 648,
                h: 440,
                client_x: 320,
                client_y: 216,
            }
        );
        assert_eq!(at(&s, W, 0, 0), rgb(0x10, 0x18, 0x30));
        assert_eq!(at(&s, W, 1279, 799), background(799, 800));
        assert_eq!(background(799, 800), rgb(0x10, 0x18 + 47, 0x30 + 95));
        assert_eq!(at(&s, W, 316, 180), BORDER_COLOR);
        assert_eq!(at(&s, W, 963, 619), BORDER_COLOR);
        assert_eq!(at(&s, W, 971, 627), SHADOW_COLOR);
        assert_eq!(at(&s, W, 320, 184), TITLE_COLOR);
        // The client image is copied unchanged.
        let c = client(FRAMES);
        for (x, y) in [(0, 0), (639, 0), (0, 399), (639, 399), (345, 123)] {
            assert_eq!(at(&s, W, 320 + x, 216 + y), at(&c, 640, x, y));
        }
        // Progress: complete at the last frame.
        let (tx, ty, tw, _) = progress_track(&l);
        assert_eq!((tx, ty, tw), (328, 196, 520));
        assert_eq!(at(&s, W, tx, ty), PROGRESS_COLOR);
        assert_eq!(at(&s, W, tx + i64::from(tw) - 1, ty), PROGRESS_COLOR);
        let half = screen(FRAMES / 2);
        assert_eq!(at(&half, W, tx + i64::from(tw) / 2 - 1, ty), PROGRESS_COLOR);
        assert_eq!(at(&half, W, tx + i64::from(tw) / 2, ty), TRACK_COLOR);
    }

    #[test]
    fn frame_counter_digits() {
        let s = screen(60);
        let l = layout(W, H, CLIENT_WIDTH, CLIENT_HEIGHT);
        let (right, top) = counter_origin(&l);
        assert_eq!((right, top), (952, 190));
        // "60": '6' at x 924..936, '0' at x 940..952; each cell 4 x 4.
        let cell = |d: i64, col: i64, row: i64| {
            at(&s, W, right - 28 + d * 16 + col * 4 + 1, top + row * 4 + 2)
        };
        // '6' row 1 is "100", '0' row 2 is "101".
        assert_eq!(cell(0, 0, 1), DIGIT_COLOR);
        assert_eq!(cell(0, 2, 1), TITLE_COLOR);
        assert_eq!(cell(1, 0, 2), DIGIT_COLOR);
        assert_eq!(cell(1, 1, 2), TITLE_COLOR);
        assert_eq!(cell(1, 2, 2), DIGIT_COLOR);
        // Nothing right of the last digit but title bar.
        assert_eq!(at(&s, W, right, top), TITLE_COLOR);
        assert_eq!(decimal(0), ([0; 10], 1));
        assert_eq!(
            &decimal(4_294_967_295).0[..],
            &[4, 2, 9, 4, 9, 6, 7, 2, 9, 5]
        );
    }

    #[test]
    fn clipping_never_panics() {
        for frame in [0, 1, FRAMES, u32::MAX] {
            for (w, h) in [(0, 0), (0, 7), (7, 0), (1, 1), (3, 2), (5, 5), (640, 400)] {
                let mut b = vec![0; (w * h) as usize];
                render_client(frame, &mut b, w, h);
                let mut short = vec![0; (w * h / 2) as usize];
                render_client(frame, &mut short, w, h);
            }
            let c = client(frame);
            for (w, h) in [(0, 0), (1, 1), (100, 50), (648, 440), (700, 480), (W, H)] {
                let mut out = vec![0; (w * h) as usize];
                composite(frame, &c, CLIENT_WIDTH, CLIENT_HEIGHT, &mut out, w, h);
                let mut short = vec![0; (w * h) as usize / 3];
                composite(frame, &c, CLIENT_WIDTH, CLIENT_HEIGHT, &mut short, w, h);
                // A client slice shorter than cw * ch, and one of zero width.
                composite(
                    frame,
                    &c[..1000],
                    CLIENT_WIDTH,
                    CLIENT_HEIGHT,
                    &mut out,
                    w,
                    h,
                );
                composite(frame, &[], 0, 0, &mut out, w, h);
            }
        }
    }

    #[test]
    fn short_buffers_draw_what_fits() {
        let mut full = vec![0; 64 * 40];
        render_client(9, &mut full, 64, 40);
        let mut short = vec![0; 64 * 10 + 5];
        render_client(9, &mut short, 64, 40);
        assert_eq!(&short[..640], &full[..640]);
        assert_eq!(&short[640..], &[0; 5]);
        // A screen smaller than the window: the client image is clipped, not moved.
        let c = client(2);
        let mut small = vec![0; 320 * 200];
        composite(2, &c, CLIENT_WIDTH, CLIENT_HEIGHT, &mut small, 320, 200);
        let l = layout(320, 200, CLIENT_WIDTH, CLIENT_HEIGHT);
        assert_eq!((l.client_x, l.client_y), (-160, -84));
        assert_eq!(at(&small, 320, 0, 0), at(&c, 640, 160, 84));
        assert_eq!(at(&small, 320, 319, 199), at(&c, 640, 479, 283));
    }
}
