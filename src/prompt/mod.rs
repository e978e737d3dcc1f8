//! prompt (to be built).
