//! The two blurs the WebUI's inpainting uses, bit-exact:
//! - the mask blur: `cv2.GaussianBlur` on 8-bit data with a (k, 1) or (1, k) kernel,
//!   k = 2·int(2.5·σ + 0.5) + 1 — OpenCV's bit-exact fixed-point path (8.8 kernel taps,
//!   BORDER_REFLECT_101);
//! - Pillow's `ImageFilter.GaussianBlur(radius)` (three box blurs per axis with fractional edge
//!   weights in 8.24 fixed point), used by `masking.fill` on premultiplied RGBa.

use image::GrayImage;

/// OpenCV's bit-exact Gaussian kernel for `ufixedpoint16` (taps in 1/256, summing to 256). The
/// taps are differences of the rounded cumulative sums of the normalised Gaussian (error
/// diffusion), the centre tap taking the remainder — verified tap for tap against OpenCV 4.12.
pub(crate) fn cv_gaussian_kernel_q8(n: usize, sigma: f64) -> Vec<u32> {
    if n <= 1 {
        return vec![256];
    }
    let scale2x = -0.125 / (sigma * sigma);
    let n2 = (n - 1) / 2;
    let values: Vec<f64> = (0..n2)
        .map(|i| {
            let x = 1 - n as i64 + 2 * i as i64;
            ((x * x) as f64 * scale2x).exp()
        })
        .collect();
    let mut sum = values.iter().sum::<f64>() * 2.0 + 1.0;
    if n.is_multiple_of(2) {
        sum += 1.0;
    }
    let mul1 = 1.0 / sum;
    let mut out = vec![0u32; n];
    let (mut acc, mut prev) = (0.0f64, 0u32);
    for (i, v) in values.iter().enumerate() {
        acc += v * mul1;
        let r = (acc * 256.0).round_ties_even().clamp(0.0, 65535.0) as u32;
        let t = r.saturating_sub(prev);
        prev = r;
        out[i] = t;
        out[n - 1 - i] = t;
    }
    out[n2] = 256u32.saturating_sub(2 * prev);
    if n.is_multiple_of(2) {
        out[n2 + 1] = out[n2];
    }
    out
}

/// OpenCV's `borderInterpolate` for BORDER_REFLECT_101 (`gfedcb|abcdefgh|gfedcba`).
fn reflect101(mut p: i64, len: i64) -> usize {
    if len == 1 {
        return 0;
    }
    while p < 0 || p >= len {
        if p < 0 {
            p = -p;
        } else {
            p = 2 * len - 2 - p;
        }
    }
    p as usize
}

/// The WebUI's kernel size for a mask blur of `sigma` pixels.
fn webui_kernel_size(sigma: u32) -> usize {
    2 * ((2.5 * f64::from(sigma) + 0.5) as usize) + 1
}

fn blur_lines(data: &[u8], len: usize, lines: usize, stride: usize, step: usize, kernel: &[u32]) -> Vec<u8> {
    let r = (kernel.len() / 2) as i64;
    let idx: Vec<Vec<usize>> = (0..len as i64)
        .map(|x| (-r..=r).map(|d| reflect101(x + d, len as i64)).collect())
        .collect();
    let mut out = vec![0u8; data.len()];
    for l in 0..lines {
        let base = l * stride;
        for (x, taps) in idx.iter().enumerate() {
            let s: u32 = taps
                .iter()
                .zip(kernel)
                .map(|(&i, &k)| k * u32::from(data[base + i * step]))
                .sum();
            out[base + x * step] = ((s + 128) >> 8) as u8;
        }
    }
    out
}

/// The WebUI's mask blur: `cv2.GaussianBlur(m, (kx, 1), blur_x)` then `cv2.GaussianBlur(m, (1, ky),
/// blur_y)`, each skipped when its blur is 0.
#[must_use]
pub fn blur_mask(mask: &GrayImage, blur_x: u32, blur_y: u32) -> GrayImage {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let mut data = mask.as_raw().clone();
    if blur_x > 0 && w > 0 {
        let k = cv_gaussian_kernel_q8(webui_kernel_size(blur_x), f64::from(blur_x));
        data = blur_lines(&data, w, h, w, 1, &k);
    }
    if blur_y > 0 && h > 0 {
        let k = cv_gaussian_kernel_q8(webui_kernel_size(blur_y), f64::from(blur_y));
        // Columns: line l starts at l, steps by w.
        let r = (k.len() / 2) as i64;
        let idx: Vec<Vec<usize>> = (0..h as i64)
            .map(|y| (-r..=r).map(|d| reflect101(y + d, h as i64)).collect())
            .collect();
        let mut out = vec![0u8; data.len()];
        for (y, taps) in idx.iter().enumerate() {
            for x in 0..w {
                let s: u32 = taps
                    .iter()
                    .zip(&k)
                    .map(|(&i, &kv)| kv * u32::from(data[i * w + x]))
                    .sum();
                out[y * w + x] = ((s + 128) >> 8) as u8;
            }
        }
        data = out;
    }
    GrayImage::from_raw(mask.width(), mask.height(), data).unwrap_or_else(|| mask.clone())
}

/// Pillow's `_gaussian_blur_radius` (float arithmetic as in C).
fn box_radius(radius: f32, passes: i32) -> f32 {
    let sigma2: f32 = radius * radius / passes as f32;
    let big_l: f32 = (12.0f64 * f64::from(sigma2) + 1.0).sqrt() as f32;
    let l: f32 = ((f64::from(big_l) - 1.0) / 2.0).floor() as f32;
    let mut a: f32 = (2.0 * l + 1.0) * (l * (l + 1.0) - 3.0 * sigma2);
    a /= 6.0 * (sigma2 - (l + 1.0) * (l + 1.0));
    l + a
}

/// Pillow's `ImagingLineBoxBlur32` on one line of 4-channel pixels.
fn line_box_blur(out: &mut [[u8; 4]], line: &[[u8; 4]], radius: usize, edge_a: usize, edge_b: usize, ww: u32, fw: u32) {
    let lastx = line.len() - 1;
    let mut acc = [0u32; 4];
    for c in 0..4 {
        let mut a = u32::from(line[0][c]).wrapping_mul(radius as u32 + 1);
        for px in line.iter().take(edge_a.saturating_sub(1)) {
            a = a.wrapping_add(u32::from(px[c]));
        }
        a = a.wrapping_add(u32::from(line[lastx][c]).wrapping_mul((radius + 1 - edge_a) as u32));
        acc[c] = a;
    }
    let mut step = |x: usize, sub: usize, add: usize, left: usize, right: usize, acc: &mut [u32; 4]| {
        for c in 0..4 {
            acc[c] = acc[c]
                .wrapping_add(u32::from(line[add][c]))
                .wrapping_sub(u32::from(line[sub][c]));
            let bulk = acc[c]
                .wrapping_mul(ww)
                .wrapping_add((u32::from(line[left][c]) + u32::from(line[right][c])).wrapping_mul(fw));
            out[x][c] = (bulk.wrapping_add(1 << 23) >> 24) as u8;
        }
    };
    if edge_a <= edge_b {
        for x in 0..edge_a {
            step(x, 0, x + radius, 0, x + radius + 1, &mut acc);
        }
        for x in edge_a..edge_b {
            step(x, x - radius - 1, x + radius, x - radius - 1, x + radius + 1, &mut acc);
        }
        for x in edge_b..=lastx {
            step(x, x - radius - 1, lastx, x - radius - 1, lastx, &mut acc);
        }
    } else {
        for x in 0..edge_b {
            step(x, 0, x + radius, 0, x + radius + 1, &mut acc);
        }
        for x in edge_b..edge_a {
            step(x, 0, lastx, 0, lastx, &mut acc);
        }
        for x in edge_a..=lastx {
            step(x, x - radius - 1, lastx, x - radius - 1, lastx, &mut acc);
        }
    }
}

fn horizontal_box_blur(px: &mut [[u8; 4]], w: usize, h: usize, float_radius: f32) {
    let radius = float_radius as usize;
    let ww = (16_777_216.0f32 / (float_radius * 2.0 + 1.0)) as u32;
    let fw = (16_777_216u32.wrapping_sub((radius as u32 * 2 + 1).wrapping_mul(ww))) / 2;
    let edge_a = (radius + 1).min(w);
    let edge_b = w.saturating_sub(radius + 1);
    let mut out = vec![[0u8; 4]; w];
    for y in 0..h {
        let line = &mut px[y * w..(y + 1) * w];
        line_box_blur(&mut out, line, radius, edge_a, edge_b, ww, fw);
        line.copy_from_slice(&out);
    }
}

fn transpose(px: &[[u8; 4]], w: usize, h: usize) -> Vec<[u8; 4]> {
    let mut t = vec![[0u8; 4]; px.len()];
    for y in 0..h {
        for x in 0..w {
            t[x * h + y] = px[y * w + x];
        }
    }
    t
}

/// Pillow's `image.filter(ImageFilter.GaussianBlur(radius))` on 4-channel 8-bit pixels (Pillow
/// blurs each channel alike; for RGBa the premultiplied values).
pub(crate) fn pil_gaussian_blur(px: &[[u8; 4]], w: usize, h: usize, radius: f32) -> Vec<[u8; 4]> {
    if radius == 0.0 || w == 0 || h == 0 {
        return px.to_vec();
    }
    let r = box_radius(radius, 3);
    let mut out = px.to_vec();
    for _ in 0..3 {
        horizontal_box_blur(&mut out, w, h, r);
    }
    let mut t = transpose(&out, w, h);
    for _ in 0..3 {
        horizontal_box_blur(&mut t, h, w, r);
    }
    transpose(&t, h, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_sum_to_one() {
        for s in [1u32, 2, 4, 8, 30, 64] {
            let k = cv_gaussian_kernel_q8(webui_kernel_size(s), f64::from(s));
            assert_eq!(k.iter().sum::<u32>(), 256, "sigma {s}");
            assert_eq!(k.len() % 2, 1);
        }
    }

    #[test]
    fn reflect() {
        let v: Vec<usize> = (-4..9).map(|p| reflect101(p, 5)).collect();
        assert_eq!(v, vec![4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0]);
        assert_eq!(reflect101(-7, 1), 0);
        assert_eq!(reflect101(-30, 3), 2);
    }

    #[test]
    fn constant_input_is_unchanged() {
        let m = GrayImage::from_pixel(7, 3, image::Luma([200]));
        assert_eq!(blur_mask(&m, 4, 9).as_raw(), m.as_raw());
        let px = vec![[10u8, 20, 30, 255]; 12];
        assert_eq!(pil_gaussian_blur(&px, 4, 3, 64.0), px);
    }
}
