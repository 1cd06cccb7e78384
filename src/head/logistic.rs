//! Head part `logistic` (to be written).
