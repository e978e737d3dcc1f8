//! jobs (to be built).
