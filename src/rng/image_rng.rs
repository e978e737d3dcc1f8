//! (wip)
pub struct ImageRng;
pub struct ImageRngConfig;
