//! Part `image_io` (to be written).
