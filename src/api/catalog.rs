//! Fixed lists the WebUI serves: latent upscale modes and upscalers. sdgate has no model-based
//! upscaler (ESRGAN etc.) yet; the pixel upscalers listed are plain resamplers.

/// The hires-fix latent modes (the WebUI's `shared.latent_upscale_modes`).
pub const LATENT_UPSCALE_MODES: &[&str] = &[
    "Latent",
    "Latent (antialiased)",
    "Latent (bicubic)",
    "Latent (bicubic antialiased)",
    "Latent (nearest)",
    "Latent (nearest-exact)",
];

/// Pixel upscalers: (name, scale).
pub const UPSCALERS: &[(&str, f64)] = &[("None", 4.0), ("Lanczos", 4.0), ("Nearest", 4.0)];

/// Is `name` a valid hires-fix upscaler (case-insensitive)? Returns the canonical name.
pub fn hires_upscaler(name: &str) -> Option<&'static str> {
    LATENT_UPSCALE_MODES
        .iter()
        .copied()
        .chain(UPSCALERS.iter().map(|(n, _)| *n))
        .find(|n| n.eq_ignore_ascii_case(name.trim()))
}
