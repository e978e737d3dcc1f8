//! Fitting an init image (or mask) to the generation size: the WebUI's `images.resize_image`
//! for resize modes 0–2 with Lanczos resampling (no img2img upscaler configured, the default).

use image::{ImageBuffer, Pixel};

use super::ImageError;
use super::resample::{Filter, resize, resize_box};

/// How an init image is fitted to `width × height` (the API's `resize_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// 0, "Just resize": stretch to the target size.
    Just,
    /// 1, "Crop and resize": scale to cover, centre, crop the excess.
    CropAndResize,
    /// 2, "Resize and fill": scale to fit, centre, fill the bands by stretching the edge rows or
    /// columns (a zero-width `box` resize with Pillow's default filter, BICUBIC, as the WebUI does).
    ResizeAndFill,
    /// 3, "Just resize (latent upscale)": done by the pipeline on latents; on pixels (masks) the
    /// WebUI's `resize_image` falls through to "Resize and fill", and so does [`fit`].
    LatentUpscale,
}

impl ResizeMode {
    /// From the API integer.
    pub fn from_api(v: i64) -> Result<Self, ImageError> {
        match v {
            0 => Ok(ResizeMode::Just),
            1 => Ok(ResizeMode::CropAndResize),
            2 => Ok(ResizeMode::ResizeAndFill),
            3 => Ok(ResizeMode::LatentUpscale),
            other => Err(ImageError::Shape(format!(
                "resize_mode must be 0, 1, 2 or 3, not {other}"
            ))),
        }
    }
}

/// Pillow's `Image.paste(src, (x, y))` without a mask: clipped to the destination.
pub(crate) fn paste<P: Pixel<Subpixel = u8>>(
    dst: &mut ImageBuffer<P, Vec<u8>>,
    src: &ImageBuffer<P, Vec<u8>>,
    x: i64,
    y: i64,
) {
    let (dw, dh) = (i64::from(dst.width()), i64::from(dst.height()));
    let (sw, sh) = (i64::from(src.width()), i64::from(src.height()));
    let ch = usize::from(P::CHANNEL_COUNT);
    let x0 = x.max(0);
    let x1 = (x + sw).min(dw);
    if x1 <= x0 {
        return;
    }
    let n = (x1 - x0) as usize * ch;
    let dstride = dw as usize * ch;
    let sstride = sw as usize * ch;
    let (sraw, draw) = (src.as_raw(), &mut **dst);
    for dy in y.max(0)..(y + sh).min(dh) {
        let sy = (dy - y) as usize;
        let sx = (x0 - x) as usize;
        let d = dy as usize * dstride + x0 as usize * ch;
        let s = sy * sstride + sx * ch;
        draw[d..d + n].copy_from_slice(&sraw[s..s + n]);
    }
}

/// The WebUI's `images.resize_image(resize_mode, im, width, height)` with Lanczos, for RGB images
/// and masks. Pixels not covered (possible only in mode 2 with odd remainders) stay black, as on
/// the WebUI's `Image.new("RGB")` canvas. Where the WebUI would call `resize` with a zero-sized
/// fill band (and fail), the band is skipped.
pub fn fit<P: Pixel<Subpixel = u8>>(
    im: &ImageBuffer<P, Vec<u8>>,
    mode: ResizeMode,
    width: u32,
    height: u32,
) -> Result<ImageBuffer<P, Vec<u8>>, ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::InvalidSize { width, height });
    }
    let (iw, ih) = (i64::from(im.width()), i64::from(im.height()));
    if iw == 0 || ih == 0 {
        return Err(ImageError::Empty);
    }
    let (w, h) = (i64::from(width), i64::from(height));
    let ratio = f64::from(width) / f64::from(height);
    let src_ratio = iw as f64 / ih as f64;
    let dims = |v: i64| u32::try_from(v).ok().filter(|&v| v > 0);
    match mode {
        ResizeMode::Just => resize(im, width, height, Filter::Lanczos),
        ResizeMode::CropAndResize => {
            let src_w = if ratio > src_ratio { w } else { iw * h / ih };
            let src_h = if ratio <= src_ratio { h } else { ih * w / iw };
            let (sw, sh) = dims(src_w)
                .zip(dims(src_h))
                .ok_or(ImageError::InvalidSize { width, height })?;
            let resized = resize(im, sw, sh, Filter::Lanczos)?;
            let mut res = ImageBuffer::new(width, height);
            paste(&mut res, &resized, w / 2 - src_w / 2, h / 2 - src_h / 2);
            Ok(res)
        }
        ResizeMode::ResizeAndFill | ResizeMode::LatentUpscale => {
            let src_w = if ratio < src_ratio { w } else { iw * h / ih };
            let src_h = if ratio >= src_ratio { h } else { ih * w / iw };
            let (sw, sh) = dims(src_w)
                .zip(dims(src_h))
                .ok_or(ImageError::InvalidSize { width, height })?;
            let resized = resize(im, sw, sh, Filter::Lanczos)?;
            let mut res = ImageBuffer::new(width, height);
            paste(&mut res, &resized, w / 2 - src_w / 2, h / 2 - src_h / 2);
            let (rw, rh) = (resized.width() as f32, resized.height() as f32);
            if ratio < src_ratio {
                let fill_height = h / 2 - src_h / 2;
                if let Some(fh) = dims(fill_height) {
                    let top = resize_box(&resized, width, fh, Filter::Bicubic, [0.0, 0.0, width as f32, 0.0])?;
                    paste(&mut res, &top, 0, 0);
                    let bottom = resize_box(&resized, width, fh, Filter::Bicubic, [0.0, rh, width as f32, rh])?;
                    paste(&mut res, &bottom, 0, fill_height + src_h);
                }
            } else if ratio > src_ratio {
                let fill_width = w / 2 - src_w / 2;
                if let Some(fw) = dims(fill_width) {
                    let left = resize_box(&resized, fw, height, Filter::Bicubic, [0.0, 0.0, 0.0, height as f32])?;
                    paste(&mut res, &left, 0, 0);
                    let right = resize_box(&resized, fw, height, Filter::Bicubic, [rw, 0.0, rw, height as f32])?;
                    paste(&mut res, &right, fill_width + src_w, 0);
                }
            }
            Ok(res)
        }
    }
}

/// The WebUI's built-in "Lanczos" upscaler as `images.resize_image(0, im, w, h, "Lanczos")` uses it
/// (hires fix with `hr_upscaler: "Lanczos"`): `Upscaler.upscale` repeats `do_upscale` (a Lanczos
/// resize by the scale) until the image covers the size rounded down to a multiple of 8, resizes to
/// that size, then resizes to `w × h` when they differ. Without enlargement it is a plain Lanczos
/// resize. "None" (and no upscaler) is [`fit`] with [`ResizeMode::Just`].
pub fn upscale_lanczos_webui(im: &image::RgbImage, w: u32, h: u32) -> Result<image::RgbImage, ImageError> {
    if w == 0 || h == 0 {
        return Err(ImageError::InvalidSize { width: w, height: h });
    }
    let (iw, ih) = im.dimensions();
    if iw == 0 || ih == 0 {
        return Err(ImageError::Empty);
    }
    let scale = (f64::from(w) / f64::from(iw)).max(f64::from(h) / f64::from(ih));
    let mut img = im.clone();
    if scale > 1.0 {
        let dest_w = ((f64::from(iw) * scale) / 8.0).floor() * 8.0;
        let dest_h = ((f64::from(ih) * scale) / 8.0).floor() * 8.0;
        for i in 0..3 {
            if f64::from(img.width()) >= dest_w && f64::from(img.height()) >= dest_h && (i > 0 || scale != 1.0) {
                break;
            }
            let shape = img.dimensions();
            let nw = (f64::from(img.width()) * scale) as u32;
            let nh = (f64::from(img.height()) * scale) as u32;
            if nw == 0 || nh == 0 || u64::from(nw) * u64::from(nh) > 1 << 28 {
                return Err(ImageError::InvalidSize { width: nw, height: nh });
            }
            img = resize(&img, nw, nh, Filter::Lanczos)?;
            if shape == img.dimensions() {
                break;
            }
        }
        let (dw, dh) = (dest_w as u32, dest_h as u32);
        if (img.width(), img.height()) != (dw, dh) && dw > 0 && dh > 0 {
            img = resize(&img, dw, dh, Filter::Lanczos)?;
        }
    }
    if img.dimensions() != (w, h) {
        img = resize(&img, w, h, Filter::Lanczos)?;
    }
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::RgbImage;

    #[test]
    fn output_sizes() {
        let img = RgbImage::from_fn(60, 30, |x, y| image::Rgb([x as u8, y as u8, 3]));
        for mode in [
            ResizeMode::Just,
            ResizeMode::CropAndResize,
            ResizeMode::ResizeAndFill,
            ResizeMode::LatentUpscale,
        ] {
            for (w, h) in [(32, 32), (64, 16), (1, 1), (100, 7)] {
                match fit(&img, mode, w, h) {
                    Ok(r) => assert_eq!(r.dimensions(), (w, h), "{mode:?}"),
                    // Fitting 60x30 into 1x1 leaves a 1x0 image: Pillow refuses it too.
                    Err(e) => assert!((w, h) == (1, 1) && mode != ResizeMode::Just, "{mode:?} {e}"),
                }
            }
        }
        assert!(fit(&img, ResizeMode::Just, 0, 5).is_err());
        assert!(ResizeMode::from_api(4).is_err());
    }

    #[test]
    fn paste_clips() {
        let mut dst = RgbImage::new(4, 4);
        let src = RgbImage::from_pixel(3, 3, image::Rgb([9, 9, 9]));
        paste(&mut dst, &src, -1, 2);
        assert_eq!(dst.get_pixel(0, 2).0, [9, 9, 9]);
        assert_eq!(dst.get_pixel(2, 2).0, [0, 0, 0]);
        assert_eq!(dst.get_pixel(1, 3).0, [9, 9, 9]);
        paste(&mut dst, &src, 10, 10);
    }
}
