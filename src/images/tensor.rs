//! Images ⇄ tensors, as the WebUI converts them around the VAE, plus the inpainting-model
//! conditioning inputs (the masked image and the mask at latent size).

use image::{GrayImage, RgbImage};
use ndarray::{Array4, ArrayView4};

use super::ImageError;

/// RGB8 images (all the same size) → NCHW f32 in [-1, 1]: `(x / 255) * 2 - 1` in f32, the order of
/// the WebUI's `np.array(image).astype(np.float32) / 255.0` then `image * 2 - 1`.
pub fn images_to_tensor(images: &[RgbImage]) -> Result<Array4<f32>, ImageError> {
    let first = images.first().ok_or(ImageError::Empty)?;
    let (w, h) = first.dimensions();
    if images.iter().any(|i| i.dimensions() != (w, h)) {
        return Err(ImageError::Shape("images of a batch must share one size".into()));
    }
    let (w, h) = (w as usize, h as usize);
    let mut t = Array4::<f32>::zeros((images.len(), 3, h, w));
    for (n, img) in images.iter().enumerate() {
        for (i, p) in img.pixels().enumerate() {
            let (y, x) = (i / w, i % w);
            for c in 0..3 {
                t[[n, c, y, x]] = (f32::from(p.0[c]) / 255.0) * 2.0 - 1.0;
            }
        }
    }
    Ok(t)
}

/// VAE output NCHW f32 in about [-1, 1] → RGB8 images: `clamp((x + 1) / 2, 0, 1)`, times 255, then
/// truncated to u8 (the WebUI's `astype(np.uint8)`: truncation, not rounding). NaN becomes 0.
pub fn tensor_to_images(t: ArrayView4<'_, f32>) -> Result<Vec<RgbImage>, ImageError> {
    let (n, c, h, w) = t.dim();
    if c != 3 || h == 0 || w == 0 {
        return Err(ImageError::Shape(format!(
            "expected [N, 3, H, W], got [{n}, {c}, {h}, {w}]"
        )));
    }
    let (wu, hu) = (u32::try_from(w), u32::try_from(h));
    let (Ok(wu), Ok(hu)) = (wu, hu) else {
        return Err(ImageError::Shape("tensor too large".into()));
    };
    let mut out = Vec::with_capacity(n);
    for b in 0..n {
        let mut img = RgbImage::new(wu, hu);
        for y in 0..h {
            for x in 0..w {
                let mut px = [0u8; 3];
                for (ch, v) in px.iter_mut().enumerate() {
                    *v = unit_to_u8(((t[[b, ch, y, x]] + 1.0) / 2.0).clamp(0.0, 1.0));
                }
                img.put_pixel(x as u32, y as u32, image::Rgb(px));
            }
        }
        out.push(img);
    }
    Ok(out)
}

/// `(255. * x).astype(np.uint8)` for x in [0, 1] (NaN → 0, as a saturating cast).
#[inline]
pub(crate) fn unit_to_u8(x: f32) -> u8 {
    (255.0f32 * x) as u8
}

/// The masked image an inpainting (9-channel) model is conditioned on, NCHW in [-1, 1], before the
/// VAE encodes it. As the WebUI's `inpainting_image_conditioning` with `inpainting_mask_weight` 1:
/// `image * (1 - round(mask / 255))`, where `image` is the processed init image (after "fill") and
/// `mask` the processed mask at the same size. Without a mask the whole image is masked (all 0).
pub fn inpainting_masked_image(images: &[RgbImage], mask: Option<&GrayImage>) -> Result<Array4<f32>, ImageError> {
    let mut t = images_to_tensor(images)?;
    let (n, _, h, w) = t.dim();
    let Some(mask) = mask else {
        t.fill(0.0);
        return Ok(t);
    };
    if mask.dimensions() != (w as u32, h as u32) {
        return Err(ImageError::Mask(format!(
            "mask is {}x{} but the image is {w}x{h}",
            mask.width(),
            mask.height()
        )));
    }
    for (i, m) in mask.pixels().enumerate() {
        let keep = 1.0 - (f32::from(m.0[0]) / 255.0).round_ties_even();
        let (y, x) = (i / w, i % w);
        for b in 0..n {
            for c in 0..3 {
                t[[b, c, y, x]] *= keep;
            }
        }
    }
    Ok(t)
}

/// The masked image for txt2img with an inpainting model: the WebUI uses a 0.5-grey image in
/// [0, 1], i.e. 0 in [-1, 1], fully masked. Shape [batch, 3, height, width].
#[must_use]
pub fn txt2img_inpainting_image(batch: usize, width: usize, height: usize) -> Array4<f32> {
    Array4::zeros((batch, 3, height, width))
}

/// The mask channel of the inpainting conditioning at latent size `[1, 1, lh, lw]`:
/// `round(mask / 255)` then `torch.nn.functional.interpolate(..., size=(lh, lw))` (mode "nearest").
/// Without a mask (txt2img, or img2img without mask) it is all ones.
pub fn conditioning_mask_latent(mask: Option<&GrayImage>, lw: usize, lh: usize) -> Result<Array4<f32>, ImageError> {
    if lw == 0 || lh == 0 {
        return Err(ImageError::InvalidSize {
            width: lw as u32,
            height: lh as u32,
        });
    }
    let Some(mask) = mask else {
        return Ok(Array4::ones((1, 1, lh, lw)));
    };
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    let xs: Vec<usize> = (0..lw).map(|o| super::latent::nearest_index(o, w, lw)).collect();
    let ys: Vec<usize> = (0..lh).map(|o| super::latent::nearest_index(o, h, lh)).collect();
    let mut out = Array4::zeros((1, 1, lh, lw));
    for (oy, &iy) in ys.iter().enumerate() {
        for (ox, &ix) in xs.iter().enumerate() {
            out[[0, 0, oy, ox]] = (f32::from(mask.get_pixel(ix as u32, iy as u32).0[0]) / 255.0).round_ties_even();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let img = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8 * 50, y as u8 * 100, 255]));
        let t = images_to_tensor(std::slice::from_ref(&img)).expect("tensor");
        assert_eq!(t.dim(), (1, 3, 3, 5));
        assert_eq!(t[[0, 2, 0, 0]], 1.0);
        assert_eq!(t[[0, 0, 0, 0]], -1.0);
        // Not lossless, as in the WebUI: (50/255)*2-1 → back to 49.99… → truncated to 49.
        let back = tensor_to_images(t.view()).expect("images");
        assert!(back[0].as_raw().iter().zip(img.as_raw()).all(|(a, b)| b - a <= 1));
        // Truncation: 0.999 * 255 = 254.7 → 254.
        let mut v = Array4::<f32>::zeros((1, 3, 1, 1));
        v.fill(0.998);
        assert_eq!(
            tensor_to_images(v.view()).expect("img")[0].get_pixel(0, 0).0,
            [254, 254, 254]
        );
        v.fill(f32::NAN);
        assert_eq!(tensor_to_images(v.view()).expect("img")[0].get_pixel(0, 0).0, [0, 0, 0]);
        v.fill(7.0);
        assert_eq!(
            tensor_to_images(v.view()).expect("img")[0].get_pixel(0, 0).0,
            [255, 255, 255]
        );
        assert!(tensor_to_images(Array4::<f32>::zeros((1, 4, 2, 2)).view()).is_err());
        assert!(images_to_tensor(&[]).is_err());
    }

    #[test]
    fn masked_image_and_latent_mask() {
        let img = RgbImage::from_pixel(16, 16, image::Rgb([255, 255, 255]));
        let mask = GrayImage::from_fn(16, 16, |x, _| image::Luma([if x < 8 { 0 } else { 200 }]));
        let t = inpainting_masked_image(std::slice::from_ref(&img), Some(&mask)).expect("masked");
        assert_eq!(t[[0, 0, 0, 0]], 1.0);
        assert_eq!(t[[0, 0, 0, 8]], 0.0);
        let m = conditioning_mask_latent(Some(&mask), 2, 2).expect("latent mask");
        assert_eq!(m.iter().copied().collect::<Vec<_>>(), vec![0.0, 1.0, 0.0, 1.0]);
        assert!(
            conditioning_mask_latent(None, 3, 2)
                .expect("ones")
                .iter()
                .all(|&v| v == 1.0)
        );
        assert!(
            inpainting_masked_image(&[img], None)
                .expect("all masked")
                .iter()
                .all(|&v| v == 0.0)
        );
    }
}
