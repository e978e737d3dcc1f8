//! Pillow's resampling (`Image.resize` with BILINEAR, BICUBIC or LANCZOS, optional `box`),
//! reproduced operation for operation: separable passes, the filter support widened by the
//! downscale factor, coefficients normalised in double precision then rounded to 22-bit fixed
//! point, horizontal pass over only the rows the vertical pass needs. For 8-bit images the output
//! is identical to Pillow's (see tests/fixtures/images and scripts/goldens/images_resample.py).

use image::{ImageBuffer, Pixel};

use super::ImageError;

/// A Pillow resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Triangle filter, support 1.
    Bilinear,
    /// Keys cubic with a = -0.5, support 2.
    Bicubic,
    /// Lanczos-3 (truncated sinc), support 3.
    Lanczos,
}

impl Filter {
    pub(crate) fn support(self) -> f64 {
        match self {
            Filter::Bilinear => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    pub(crate) fn eval(self, x: f64) -> f64 {
        match self {
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 { 1.0 - x } else { 0.0 }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output position: first input index, number of taps; `ksize` fixed-point taps each.
pub(crate) struct Coeffs {
    pub ksize: usize,
    pub bounds: Vec<(usize, usize)>,
    pub kk: Vec<i32>,
}

/// Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`.
pub(crate) fn precompute(in_size: usize, in0: f32, in1: f32, out_size: usize, filter: Filter) -> Coeffs {
    let (bounds, ksize, kk) = precompute_f64(in_size, in0, in1, out_size, filter);
    let kk = kk
        .iter()
        .map(|&v| {
            let s = v * f64::from(1u32 << PRECISION_BITS);
            if v < 0.0 { (-0.5 + s) as i32 } else { (0.5 + s) as i32 }
        })
        .collect();
    Coeffs { ksize, bounds, kk }
}

/// Double-precision normalised coefficients (Pillow's `precompute_coeffs`).
pub(crate) fn precompute_f64(
    in_size: usize,
    in0: f32,
    in1: f32,
    out_size: usize,
    filter: Filter,
) -> (Vec<(usize, usize)>, usize, Vec<f64>) {
    let scale = f64::from(in1 - in0) / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = (support.ceil() as usize) * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut kk = vec![0.0f64; out_size * ksize];
    let ss = 1.0 / filterscale;
    for xx in 0..out_size {
        let center = f64::from(in0) + (xx as f64 + 0.5) * scale;
        let xmin = ((center - support + 0.5) as i64).max(0);
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
        let count = (xmax - xmin).max(0) as usize;
        let k = &mut kk[xx * ksize..(xx + 1) * ksize];
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate().take(count) {
            let w = filter.eval((x as f64 + xmin as f64 - center + 0.5) * ss);
            *kx = w;
            ww += w;
        }
        if ww != 0.0 {
            for kx in k.iter_mut().take(count) {
                *kx /= ww;
            }
        }
        bounds.push((xmin as usize, count));
    }
    (bounds, ksize, kk)
}

#[inline]
fn clip8(v: i32) -> u8 {
    if v >= (1 << PRECISION_BITS << 8) {
        255
    } else if v <= 0 {
        0
    } else {
        (v >> PRECISION_BITS) as u8
    }
}

/// Resamples a packed 8-bit image of `ch` channels (1..=4) from `w×h` to `out_w×out_h`, reading
/// the source region `bx` = (x0, y0, x1, y1) as Pillow's `Image.resize(size, filter, box)` does.
pub fn resample_u8(
    src: &[u8],
    (w, h): (usize, usize),
    ch: usize,
    (out_w, out_h): (usize, usize),
    filter: Filter,
    bx: [f32; 4],
) -> Result<Vec<u8>, ImageError> {
    if out_w == 0 || out_h == 0 {
        return Err(ImageError::InvalidSize {
            width: out_w as u32,
            height: out_h as u32,
        });
    }
    if !(1..=4).contains(&ch) || src.len() != w * h * ch || w == 0 || h == 0 {
        return Err(ImageError::Shape(format!(
            "{w}x{h}x{ch} image with {} bytes",
            src.len()
        )));
    }
    let [x0, y0, x1, y1] = bx;
    if !(x0 >= 0.0 && y0 >= 0.0 && x1 <= w as f32 && y1 <= h as f32 && x1 - x0 >= 0.0 && y1 - y0 >= 0.0) {
        return Err(ImageError::Shape(format!("resize box {bx:?} outside a {w}x{h} image")));
    }
    if out_w == w && out_h == h && bx == [0.0, 0.0, w as f32, h as f32] {
        return Ok(src.to_vec());
    }
    let need_h = out_w != w || x0 != 0.0 || x1 != out_w as f32;
    let need_v = out_h != h || y0 != 0.0 || y1 != out_h as f32;
    let ch_coeffs = precompute(w, x0, x1, out_w, filter);
    let mut cv = precompute(h, y0, y1, out_h, filter);
    let first = cv.bounds.first().map_or(0, |b| b.0);
    let last = cv.bounds.last().map_or(0, |b| b.0 + b.1);

    let (mut cur, mut cur_w, mut cur_h) = (None::<Vec<u8>>, w, h);
    if need_h {
        for b in &mut cv.bounds {
            b.0 -= first;
        }
        let rows = last.saturating_sub(first);
        cur = Some(horizontal(src, w, ch, first, rows, out_w, &ch_coeffs));
        cur_w = out_w;
        cur_h = rows;
    }
    let input = cur.as_deref().unwrap_or(src);
    if need_v {
        return Ok(vertical(input, cur_w, cur_h, ch, out_h, &cv));
    }
    Ok(input.to_vec())
}

fn horizontal(src: &[u8], w: usize, ch: usize, first_row: usize, rows: usize, out_w: usize, c: &Coeffs) -> Vec<u8> {
    let mut out = vec![0u8; out_w * rows * ch];
    let half = 1i32 << (PRECISION_BITS - 1);
    for (yy, orow) in out.chunks_exact_mut(out_w * ch).enumerate() {
        let srow = &src[(yy + first_row) * w * ch..(yy + first_row + 1) * w * ch];
        for (xx, &(xmin, count)) in c.bounds.iter().enumerate() {
            let k = &c.kk[xx * c.ksize..xx * c.ksize + count];
            let base = &srow[xmin * ch..(xmin + count) * ch];
            for b in 0..ch {
                let mut ss = half;
                for (x, &kv) in k.iter().enumerate() {
                    ss = ss.wrapping_add(i32::from(base[x * ch + b]).wrapping_mul(kv));
                }
                orow[xx * ch + b] = clip8(ss);
            }
        }
    }
    out
}

fn vertical(src: &[u8], w: usize, h: usize, ch: usize, out_h: usize, c: &Coeffs) -> Vec<u8> {
    let stride = w * ch;
    let mut out = vec![0u8; stride * out_h];
    let half = 1i32 << (PRECISION_BITS - 1);
    let mut acc = vec![0i32; stride];
    for (yy, orow) in out.chunks_exact_mut(stride).enumerate() {
        let (ymin, count) = c.bounds[yy];
        let k = &c.kk[yy * c.ksize..yy * c.ksize + count];
        acc.fill(half);
        for (y, &kv) in k.iter().enumerate() {
            if ymin + y >= h {
                break;
            }
            let srow = &src[(ymin + y) * stride..(ymin + y + 1) * stride];
            for (a, &s) in acc.iter_mut().zip(srow) {
                *a = a.wrapping_add(i32::from(s).wrapping_mul(kv));
            }
        }
        for (o, &a) in orow.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// `Image.resize((w, h), filter)` for an 8-bit image buffer.
pub fn resize<P: Pixel<Subpixel = u8>>(
    img: &ImageBuffer<P, Vec<u8>>,
    w: u32,
    h: u32,
    filter: Filter,
) -> Result<ImageBuffer<P, Vec<u8>>, ImageError> {
    let (iw, ih) = img.dimensions();
    resize_box(img, w, h, filter, [0.0, 0.0, iw as f32, ih as f32])
}

/// `Image.resize((w, h), filter, box)` for an 8-bit image buffer.
pub fn resize_box<P: Pixel<Subpixel = u8>>(
    img: &ImageBuffer<P, Vec<u8>>,
    w: u32,
    h: u32,
    filter: Filter,
    bx: [f32; 4],
) -> Result<ImageBuffer<P, Vec<u8>>, ImageError> {
    let (iw, ih) = img.dimensions();
    let ch = usize::from(P::CHANNEL_COUNT);
    let data = resample_u8(
        img.as_raw(),
        (iw as usize, ih as usize),
        ch,
        (w as usize, h as usize),
        filter,
        bx,
    )?;
    ImageBuffer::from_raw(w, h, data).ok_or_else(|| ImageError::Shape("resampled buffer size".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, RgbImage};

    #[test]
    fn identity_and_constant() {
        let img = RgbImage::from_fn(13, 7, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 77]));
        assert_eq!(
            resize(&img, 13, 7, Filter::Lanczos).expect("resize").as_raw(),
            img.as_raw()
        );
        let flat = GrayImage::from_pixel(17, 9, image::Luma([123]));
        for f in [Filter::Bilinear, Filter::Bicubic, Filter::Lanczos] {
            let r = resize(&flat, 5, 31, f).expect("resize");
            assert!(r.pixels().all(|p| p.0[0] == 123), "{f:?}");
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        let img = GrayImage::new(4, 4);
        assert!(resize(&img, 0, 4, Filter::Lanczos).is_err());
        assert!(resize_box(&img, 4, 4, Filter::Lanczos, [0.0, 0.0, 5.0, 4.0]).is_err());
        assert!(resize_box(&img, 4, 4, Filter::Lanczos, [2.0, 0.0, 1.0, 4.0]).is_err());
        // A zero-height box is allowed (the WebUI's "resize and fill" uses it).
        assert!(resize_box(&img, 4, 3, Filter::Lanczos, [0.0, 4.0, 4.0, 4.0]).is_ok());
    }
}
