//! Head part `mlp` (to be written).
