//! images (to be built).

// STUB until images lands: the three modules below are placeholders for the API layer.
pub mod decode;
pub mod infotext;
pub mod png;
