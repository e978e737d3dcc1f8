//! (wip)
pub fn random_seed() -> u64 { 0 }
