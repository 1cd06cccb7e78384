//! Part `augment` (to be written).
