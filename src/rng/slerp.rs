//! (wip)
pub fn slerp() {}
