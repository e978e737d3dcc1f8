//! (wip)
pub struct BrownianTreeNoise;
pub enum SigmaTransform { Identity }
