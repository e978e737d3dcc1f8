//! Mask geometry and the "fill" content, as the WebUI's modules/masking.py.

use image::{GrayImage, RgbImage, RgbaImage};

use super::blur::pil_gaussian_blur;
use super::composite::{alpha_composite, paste_masked, premultiply, unpremultiply};

/// A rectangle `(x1, y1, x2, y2)`, x2/y2 exclusive, as Pillow's boxes.
pub type Region = (u32, u32, u32, u32);

/// `ImageOps.invert` for a mask.
#[must_use]
pub fn invert(mask: &GrayImage) -> GrayImage {
    let mut m = mask.clone();
    m.iter_mut().for_each(|v| *v = 255 - *v);
    m
}

/// `masking.get_crop_region_v2(mask, pad)`: the bounding box of non-zero pixels (Pillow's
/// `getbbox`) grown by `pad` and clipped to the mask; `None` for an all-black mask.
#[must_use]
pub fn get_crop_region(mask: &GrayImage, pad: u32) -> Option<Region> {
    let (w, h) = mask.dimensions();
    let (mut x1, mut y1, mut x2, mut y2) = (u32::MAX, u32::MAX, 0u32, 0u32);
    for (x, y, p) in mask.enumerate_pixels() {
        if p.0[0] != 0 {
            x1 = x1.min(x);
            y1 = y1.min(y);
            x2 = x2.max(x + 1);
            y2 = y2.max(y + 1);
        }
    }
    if x2 == 0 {
        return None;
    }
    Some((
        x1.saturating_sub(pad),
        y1.saturating_sub(pad),
        x2.saturating_add(pad).min(w),
        y2.saturating_add(pad).min(h),
    ))
}

/// `masking.expand_crop_region`: grows the region to the aspect ratio of the processing size,
/// shifting it back inside the image (Python integer semantics kept).
#[must_use]
pub fn expand_crop_region(region: Region, processing_w: u32, processing_h: u32, image_w: u32, image_h: u32) -> Region {
    let (mut x1, mut y1, mut x2, mut y2) = (
        i64::from(region.0),
        i64::from(region.1),
        i64::from(region.2),
        i64::from(region.3),
    );
    let (iw, ih) = (i64::from(image_w), i64::from(image_h));
    let ratio_crop = (x2 - x1) as f64 / (y2 - y1) as f64;
    let ratio_proc = f64::from(processing_w) / f64::from(processing_h);
    if ratio_crop > ratio_proc {
        let desired_h = (x2 - x1) as f64 / ratio_proc;
        let diff = (desired_h - (y2 - y1) as f64) as i64;
        y1 -= diff.div_euclid(2);
        y2 += diff - diff.div_euclid(2);
        if y2 >= ih {
            let d = y2 - ih;
            y2 -= d;
            y1 -= d;
        }
        if y1 < 0 {
            y2 -= y1;
            y1 = 0;
        }
        if y2 >= ih {
            y2 = ih;
        }
    } else {
        let desired_w = (y2 - y1) as f64 * ratio_proc;
        let diff = (desired_w - (x2 - x1) as f64) as i64;
        x1 -= diff.div_euclid(2);
        x2 += diff - diff.div_euclid(2);
        if x2 >= iw {
            let d = x2 - iw;
            x2 -= d;
            x1 -= d;
        }
        if x1 < 0 {
            x2 -= x1;
            x1 = 0;
        }
        if x2 >= iw {
            x2 = iw;
        }
    }
    let c = |v: i64| v.clamp(0, i64::from(u32::MAX)) as u32;
    (c(x1), c(y1), c(x2), c(y2))
}

/// Pillow's `crop` for boxes inside the image.
pub(crate) fn crop<P: image::Pixel<Subpixel = u8> + 'static>(
    img: &image::ImageBuffer<P, Vec<u8>>,
    r: Region,
) -> image::ImageBuffer<P, Vec<u8>> {
    let (x1, y1) = (r.0.min(img.width()), r.1.min(img.height()));
    let (x2, y2) = (r.2.min(img.width()).max(x1), r.3.min(img.height()).max(y1));
    image::imageops::crop_imm(img, x1, y1, x2 - x1, y2 - y1).to_image()
}

/// The premultiplied image with alpha = 255 − mask: `Image.new('RGBa')` pasted with the image
/// through `ImageOps.invert(mask)`, as both `masking.fill` and the WebUI's overlay build it.
fn masked_rgba_premultiplied(image: &RgbImage, mask: &GrayImage) -> Vec<[u8; 4]> {
    image
        .pixels()
        .zip(mask.pixels())
        .map(|(p, m)| paste_masked([0; 4], premultiply([p.0[0], p.0[1], p.0[2], 255]), 255 - m.0[0]))
        .collect()
}

/// The overlay the WebUI pastes back over a result: the original image with alpha = 255 − mask
/// (`image_masked.convert('RGBA')`).
pub(crate) fn overlay(image: &RgbImage, mask: &GrayImage) -> RgbaImage {
    let (w, h) = image.dimensions();
    let data = masked_rgba_premultiplied(image, mask)
        .into_iter()
        .flat_map(unpremultiply)
        .collect();
    RgbaImage::from_raw(w, h, data).unwrap_or_else(|| RgbaImage::new(w, h))
}

/// `masking.fill(image, mask)`: the masked area filled with blurred colours of the unmasked area
/// (blurs of radius 256, 64, 16×2, 4×4, 2×2, 0 composited in turn). `mask` must have the image's size.
#[must_use]
pub fn fill(image: &RgbImage, mask: &GrayImage) -> RgbImage {
    let (w, h) = image.dimensions();
    let masked = masked_rgba_premultiplied(image, mask);
    let mut acc = vec![[0u8; 4]; masked.len()];
    for (radius, repeats) in [(256.0f32, 1), (64.0, 1), (16.0, 2), (4.0, 4), (2.0, 2), (0.0, 1)] {
        let blurred: Vec<[u8; 4]> = pil_gaussian_blur(&masked, w as usize, h as usize, radius)
            .into_iter()
            .map(unpremultiply)
            .collect();
        for _ in 0..repeats {
            for (a, b) in acc.iter_mut().zip(&blurred) {
                *a = alpha_composite(*a, *b);
            }
        }
    }
    let data = acc.iter().flat_map(|p| [p[0], p[1], p[2]]).collect();
    RgbImage::from_raw(w, h, data).unwrap_or_else(|| RgbImage::new(w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_region_and_expand() {
        let mut m = GrayImage::new(100, 50);
        assert_eq!(get_crop_region(&m, 4), None);
        m.put_pixel(10, 20, image::Luma([1]));
        m.put_pixel(30, 25, image::Luma([255]));
        assert_eq!(get_crop_region(&m, 0), Some((10, 20, 31, 26)));
        assert_eq!(get_crop_region(&m, 15), Some((0, 5, 46, 41)));
        // 21x6 region expanded to a square processing size: height grows to 21.
        assert_eq!(
            expand_crop_region((10, 20, 31, 26), 512, 512, 100, 50),
            (10, 13, 31, 34)
        );
        // Near the bottom edge it is shifted up.
        assert_eq!(
            expand_crop_region((10, 44, 31, 50), 512, 512, 100, 50),
            (10, 29, 31, 50)
        );
    }

    #[test]
    fn fill_keeps_unmasked_and_fills_masked() {
        let img = RgbImage::from_fn(16, 8, |x, _| {
            if x < 8 {
                image::Rgb([200, 0, 0])
            } else {
                image::Rgb([0, 0, 200])
            }
        });
        let mask = GrayImage::from_fn(16, 8, |x, _| image::Luma(if x >= 12 { [255] } else { [0] }));
        let f = fill(&img, &mask);
        assert_eq!(f.get_pixel(2, 2).0, [200, 0, 0]);
        let p = f.get_pixel(15, 4).0;
        assert!(p[2] > 0 && p[0] > 0, "{p:?}");
    }
}
