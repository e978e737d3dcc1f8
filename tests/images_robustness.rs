//! Client data never panics the images module: arbitrary and mutated inputs give `Ok` or a clear
//! `Err`.

use std::path::Path;

use proptest::prelude::*;
use sdgate::images::{self, Limits, ParsedInfotext};

fn seeds() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images");
    [
        "metadata/png_unicode.png",
        "metadata/jpeg_unicode.jpg",
        "metadata/webp_exif.webp",
        "resample/dec_rgba.png",
    ]
    .iter()
    .map(|p| std::fs::read(dir.join(p)).expect("fixture"))
    .collect()
}

fn exercise(bytes: &[u8]) {
    let small = Limits {
        max_encoded_bytes: 1 << 20,
        max_side: 512,
        max_pixels: 1 << 18,
    };
    if let Ok(d) = images::decode_bytes(bytes, &small) {
        let _ = d.to_rgb_flattened();
        let _ = d.to_mask();
    }
    let _ = images::read_metadata(bytes, &small);
    let _ = images::read_text_chunks(bytes);
    let _ = images::probe(bytes, &small);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&bytes);
    }

    #[test]
    fn mutated_files(which in 0usize..4, flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut b = seeds()[which].clone();
        for (pos, val) in flips {
            let n = b.len();
            b[pos % n] = val;
        }
        exercise(&b);
        let n = b.len();
        exercise(&b[..cut % n]);
    }

    #[test]
    fn arbitrary_text(s in "\\PC{0,200}", t in "[a-zA-Z0-9 :,\"\\\\\n=+/-]{0,200}") {
        let _ = ParsedInfotext::parse(&s).to_webui_dict();
        let _ = ParsedInfotext::parse(&t).to_webui_dict();
        let _ = images::decode_base64(&t, &Limits::default());
        let _ = images::decode_image(&t, &Limits::default());
    }
}

#[test]
fn oversized_dimensions_in_every_format_are_refused() {
    // A JPEG header announcing 30000x30000 (SOF0) with nothing after it.
    let mut jpeg = vec![0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08];
    jpeg.extend_from_slice(&30000u16.to_be_bytes());
    jpeg.extend_from_slice(&30000u16.to_be_bytes());
    jpeg.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    let e = images::decode_bytes(&jpeg, &Limits::default()).expect_err("refused");
    assert!(
        matches!(
            e,
            images::ImageError::DimensionsTooLarge { .. } | images::ImageError::Corrupt(_)
        ),
        "{e}"
    );
    // A real lossless WebP whose VP8L header is patched to announce 10000x10000.
    let mut webp =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/resample/dec_lossless.webp"))
            .expect("fixture");
    assert_eq!(&webp[12..16], b"VP8L");
    let bits = u32::from_le_bytes([webp[21], webp[22], webp[23], webp[24]]);
    let patched = (bits & !((1 << 28) - 1)) | 9999 | (9999 << 14);
    webp[21..25].copy_from_slice(&patched.to_le_bytes());
    let e = images::decode_bytes(&webp, &Limits::default()).expect_err("refused");
    assert!(
        matches!(
            e,
            images::ImageError::DimensionsTooLarge {
                width: 10000,
                height: 10000,
                ..
            }
        ),
        "{e}"
    );
}
