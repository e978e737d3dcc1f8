//! images (to be built).
