//! rng (to be built).
