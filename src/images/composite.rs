//! Pillow's 8-bit compositing arithmetic: premultiplied conversions, masked paste, alpha_composite.

/// `(a * b + 128) / 255` rounded as Pillow's MULDIV255.
#[inline]
pub(crate) fn muldiv255(a: u8, b: u8) -> u8 {
    let t = u32::from(a) * u32::from(b) + 128;
    (((t >> 8) + t) >> 8) as u8
}

/// RGBA → RGBa (Pillow's `rgbA2rgba`).
#[inline]
pub(crate) fn premultiply(p: [u8; 4]) -> [u8; 4] {
    [
        muldiv255(p[0], p[3]),
        muldiv255(p[1], p[3]),
        muldiv255(p[2], p[3]),
        p[3],
    ]
}

/// RGBa → RGBA (Pillow's `rgba2rgbA`).
#[inline]
pub(crate) fn unpremultiply(p: [u8; 4]) -> [u8; 4] {
    let a = u32::from(p[3]);
    if a == 0 || a == 255 {
        return p;
    }
    let f = |c: u8| (255 * u32::from(c) / a).min(255) as u8;
    [f(p[0]), f(p[1]), f(p[2]), p[3]]
}

/// `paste(src, mask=L)` onto `dst` for one pixel (Pillow's BLEND on every band).
#[inline]
pub(crate) fn paste_masked(dst: [u8; 4], src: [u8; 4], m: u8) -> [u8; 4] {
    let b = super::decode::blend255;
    [
        b(dst[0], src[0], m),
        b(dst[1], src[1], m),
        b(dst[2], src[2], m),
        b(dst[3], src[3], m),
    ]
}

/// Pillow's `ImagingAlphaComposite`: `src` over `dst`, both RGBA.
#[inline]
pub(crate) fn alpha_composite(dst: [u8; 4], src: [u8; 4]) -> [u8; 4] {
    const PRECISION_BITS: u32 = 7;
    let shift = |a: u32| ((a >> 8) + a) >> 8;
    if src[3] == 0 {
        return dst;
    }
    let (sa, da) = (u32::from(src[3]), u32::from(dst[3]));
    let blend = da * (255 - sa);
    let outa255 = sa * 255 + blend;
    let coef1 = sa * 255 * 255 * (1 << PRECISION_BITS) / outa255;
    let coef2 = 255 * (1 << PRECISION_BITS) - coef1;
    let ch = |s: u8, d: u8| {
        let tmp = u32::from(s) * coef1 + u32::from(d) * coef2;
        (shift(tmp + (0x80 << PRECISION_BITS)) >> PRECISION_BITS) as u8
    };
    [
        ch(src[0], dst[0]),
        ch(src[1], dst[1]),
        ch(src[2], dst[2]),
        shift(outa255 + 0x80) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        assert_eq!(premultiply([10, 20, 30, 255]), [10, 20, 30, 255]);
        assert_eq!(unpremultiply([10, 20, 30, 0]), [10, 20, 30, 0]);
        assert_eq!(alpha_composite([1, 2, 3, 255], [9, 9, 9, 0]), [1, 2, 3, 255]);
        assert_eq!(alpha_composite([1, 2, 3, 255], [9, 8, 7, 255]), [9, 8, 7, 255]);
        assert_eq!(alpha_composite([0, 0, 0, 0], [9, 8, 7, 100]), [9, 8, 7, 100]);
        assert_eq!(paste_masked([0; 4], [200, 100, 50, 255], 255), [200, 100, 50, 255]);
        assert_eq!(paste_masked([7; 4], [200, 100, 50, 255], 0), [7; 4]);
    }
}
