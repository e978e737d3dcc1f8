//! Cheap live previews: the WebUI's "Approx cheap" latent → RGB linear map
//! (`sd_vae_approx.cheap_approximation`, then `single_sample_to_image`), optionally enlarged
//! (nearest neighbour) and encoded as PNG/base64 for the progress route.

use image::RgbImage;
use ndarray::ArrayView3;

use super::png::{PngCompression, encode_png};
use super::tensor::unit_to_u8;
use super::vae_approx_coefs;
use super::{ImageError, encode_base64};

/// Which coefficient table: the WebUI picks SDXL's for SDXL models, SD1's for everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproxFamily {
    /// SD 1.x / 2.x latents.
    Sd1,
    /// SDXL latents.
    Sdxl,
}

impl ApproxFamily {
    /// `[latent channel][r, g, b]`.
    #[must_use]
    pub fn coefficients(self) -> &'static [[f32; 3]; 4] {
        match self {
            ApproxFamily::Sd1 => &vae_approx_coefs::SD1,
            ApproxFamily::Sdxl => &vae_approx_coefs::SDXL,
        }
    }
}

/// One latent `[4, h, w]` → an `w × h` RGB8 image: `einsum("lxy,lr->rxy")`, `* 0.5 + 0.5`,
/// clamped, `* 255`, truncated (the WebUI's preview arithmetic).
pub fn cheap_approximation(latent: ArrayView3<'_, f32>, family: ApproxFamily) -> Result<RgbImage, ImageError> {
    let (c, h, w) = latent.dim();
    if c != 4 || h == 0 || w == 0 {
        return Err(ImageError::Shape(format!(
            "expected a [4, H, W] latent, got [{c}, {h}, {w}]"
        )));
    }
    let k = family.coefficients();
    let (Ok(wu), Ok(hu)) = (u32::try_from(w), u32::try_from(h)) else {
        return Err(ImageError::Shape("latent too large".into()));
    };
    let mut img = RgbImage::new(wu, hu);
    for y in 0..h {
        for x in 0..w {
            let mut px = [0u8; 3];
            for (r, v) in px.iter_mut().enumerate() {
                let mut acc = 0.0f32;
                for (l, row) in k.iter().enumerate() {
                    acc += latent[[l, y, x]] * row[r];
                }
                *v = unit_to_u8((acc * 0.5 + 0.5).clamp(0.0, 1.0));
            }
            img.put_pixel(x as u32, y as u32, image::Rgb(px));
        }
    }
    Ok(img)
}

/// Nearest-neighbour enlargement by an integer factor (1 = unchanged).
pub fn upscale_nearest(img: &RgbImage, factor: u32) -> Result<RgbImage, ImageError> {
    if factor == 0 || factor > 64 {
        return Err(ImageError::Shape(format!("preview scale must be 1..=64, not {factor}")));
    }
    let (w, h) = img.dimensions();
    Ok(RgbImage::from_fn(w * factor, h * factor, |x, y| {
        *img.get_pixel(x / factor, y / factor)
    }))
}

/// A preview PNG (fast compression, no text) of one latent, enlarged `scale` times.
pub fn preview_png(latent: ArrayView3<'_, f32>, family: ApproxFamily, scale: u32) -> Result<Vec<u8>, ImageError> {
    let img = upscale_nearest(&cheap_approximation(latent, family)?, scale)?;
    encode_png(&img, &[], PngCompression::Fast)
}

/// [`preview_png`] as base64, as the progress route's `current_image`.
pub fn preview_base64(latent: ArrayView3<'_, f32>, family: ApproxFamily, scale: u32) -> Result<String, ImageError> {
    Ok(encode_base64(&preview_png(latent, family, scale)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn shapes_and_zero_latent() {
        let z = Array3::<f32>::zeros((4, 3, 5));
        let img = cheap_approximation(z.view(), ApproxFamily::Sd1).expect("preview");
        assert_eq!(img.dimensions(), (5, 3));
        assert!(img.pixels().all(|p| p.0 == [127, 127, 127]));
        assert_eq!(upscale_nearest(&img, 8).expect("up").dimensions(), (40, 24));
        assert!(upscale_nearest(&img, 0).is_err());
        assert!(cheap_approximation(Array3::<f32>::zeros((3, 2, 2)).view(), ApproxFamily::Sd1).is_err());
        assert!(
            preview_base64(z.view(), ApproxFamily::Sdxl, 2)
                .expect("b64")
                .starts_with("iVBORw0KGgo")
        );
    }

    #[test]
    fn coefficients_match_the_extracted_json() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/vae_approx.json");
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).expect("json")).expect("parse");
        for (key, fam) in [("sd1", ApproxFamily::Sd1), ("sdxl", ApproxFamily::Sdxl)] {
            let want: Vec<f32> = v[key]
                .as_array()
                .expect("rows")
                .iter()
                .flat_map(|r| {
                    r.as_array()
                        .expect("row")
                        .iter()
                        .map(|x| x.as_f64().expect("f") as f32)
                        .collect::<Vec<_>>()
                })
                .collect();
            let got: Vec<f32> = fam.coefficients().iter().flatten().copied().collect();
            assert_eq!(got, want, "{key}");
        }
    }
}
