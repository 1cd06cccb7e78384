//! Head part `adam` (to be written).
