//! Test-time views as crop windows of the resized image, built in the graph.
//!
//! A view is a `crop × crop` window of the image resized to shorter side `resize_shorter`,
//! placed per axis at the start, centre (torchvision's `CenterCrop` rounding) or end, optionally
//! mirrored left–right. The centre view alone is today's eval transform; torchvision's
//! `TenCrop` is the four corners and the centre, each with its flip (see [`View::ten_crop`]).
//! Features of an image's views are averaged (`ReduceMean` over the view axis) before the head.

use super::Graph;

/// Where a window sits along one axis of the resized image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    /// `round((size - crop) / 2)`, ties to even, as torchvision's `CenterCrop`.
    Centre,
    End,
}

/// One crop window (+ mirror) of the resized image, or (`whole`) the whole image scaled so its
/// longer side is `crop` and centred on a white `crop × crop` square (anchors then unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub y: Anchor,
    pub x: Anchor,
    pub flip: bool,
    pub whole: bool,
}

impl View {
    /// The eval transform's centre crop.
    pub const CENTRE: View = View {
        y: Anchor::Centre,
        x: Anchor::Centre,
        flip: false,
        whole: false,
    };

    /// The whole-image view (see the type), optionally mirrored.
    pub fn whole(flip: bool) -> View {
        View {
            y: Anchor::Centre,
            x: Anchor::Centre,
            flip,
            whole: true,
        }
    }

    /// torchvision `TenCrop`: top-left, top-right, bottom-left, bottom-right, centre, then the
    /// same five mirrored.
    pub fn ten_crop() -> Vec<View> {
        use Anchor::*;
        let five = [
            (Start, Start),
            (Start, End),
            (End, Start),
            (End, End),
            (Centre, Centre),
        ];
        [false, true]
            .iter()
            .flat_map(|&flip| {
                five.iter().map(move |&(y, x)| View {
                    y,
                    x,
                    flip,
                    whole: false,
                })
            })
            .collect()
    }
}

fn mask(v: &View, which: Anchor) -> [i64; 2] {
    [(v.y == which) as i64, (v.x == which) as i64]
}

/// `image` (uint8 `[1, H, W, 3]`) resized to `sizes` (int64 `[2]`): bilinear, antialiased,
/// half-pixel, as PIL resamples (ONNX Runtime's uint8 path is PIL's algorithm).
pub(super) fn resize(g: &mut Graph, image: &str, sizes: &str) -> String {
    g.op(
        "Resize",
        &[image, "", "", sizes],
        vec![
            super::attr_str("mode", "linear"),
            super::attr_int("antialias", 1),
            super::attr_ints("axes", &[1, 2]),
            super::attr_str("coordinate_transformation_mode", "half_pixel"),
        ],
    )
}

pub(super) fn mirror(g: &mut Graph, x: &str) -> String {
    let (s, e) = (g.c_i64(&[1], &[-1]), g.c_i64(&[1], &[i64::MIN]));
    let (ax, step) = (g.c_i64(&[1], &[2]), g.c_i64(&[1], &[-1]));
    g.op("Slice", &[x, &s, &e, &ax, &step], vec![])
}

/// The whole-image views `flips` of `image` (uint8 `[1, H, W, 3]`, size `hw` int64 `[2]`), as the
/// Rust transform makes them: sides `clamp(round(s · crop / long), 1, crop)` (half up), bilinear
/// antialiased resize, white padding split `floor / ceil` around the image.
pub(super) fn wholes(
    g: &mut Graph,
    image: &str,
    hw: &str,
    crop: i64,
    flips: &[bool],
) -> Vec<String> {
    let long = g.op("ReduceMax", &[hw], vec![super::attr_int("keepdims", 1)]);
    let c = g.c_i64(&[1], &[crop]);
    let scaled = g.op("Mul", &[hw, &c], vec![]);
    let two = g.c_i64(&[1], &[2]);
    let half_long = g.op("Div", &[&long, &two], vec![]);
    let num = g.op("Add", &[&scaled, &half_long], vec![]);
    let raw = g.op("Div", &[&num, &long], vec![]);
    let (one, top) = (g.c_i64(&[1], &[1]), g.c_i64(&[1], &[crop]));
    let lo = g.op("Max", &[&raw, &one], vec![]);
    let sizes = g.op("Min", &[&lo, &top], vec![]);
    let resized = resize(g, image, &sizes);
    let excess = g.op("Sub", &[&top, &sizes], vec![]);
    let before = g.op("Div", &[&excess, &two], vec![]);
    let after = g.op("Sub", &[&excess, &before], vec![]);
    let zero = g.c_i64(&[1], &[0]);
    // pads = [0, top, left, 0, 0, bottom, right, 0] for the NHWC batch of one.
    let (b0, b1) = split2(g, &before);
    let (a0, a1) = split2(g, &after);
    let pads = g.op(
        "Concat",
        &[&zero, &b0, &b1, &zero, &zero, &a0, &a1, &zero],
        vec![super::attr_int("axis", 0)],
    );
    let white = g.c_u8_scalar(255);
    let padded = g.op("Pad", &[&resized, &pads, &white], vec![]);
    flips
        .iter()
        .map(|&f| {
            if f {
                mirror(g, &padded)
            } else {
                padded.clone()
            }
        })
        .collect()
}

/// The two elements of an int64 `[2]` as `[1]` tensors.
fn split2(g: &mut Graph, x: &str) -> (String, String) {
    let (i0, i1) = (g.c_i64(&[1], &[0]), g.c_i64(&[1], &[1]));
    let a = g.op("Gather", &[x, &i0], vec![super::attr_int("axis", 0)]);
    let b = g.op("Gather", &[x, &i1], vec![super::attr_int("axis", 0)]);
    (a, b)
}

/// Emits the crops of `views` from `resized` (uint8 `[1, h, w, 3]`) whose size is `sizes`
/// (int64 `[2]` = `[h, w]`); returns the names of the uint8 `[1, crop, crop, 3]` crops.
pub(super) fn crops(
    g: &mut Graph,
    resized: &str,
    sizes: &str,
    crop: i64,
    views: &[View],
) -> Vec<String> {
    let side = g.c_i64(&[1], &[crop]);
    let excess = g.op("Sub", &[sizes, &side], vec![]);
    let excess_f = g.op("Cast", &[&excess], vec![super::attr_int("to", 1)]);
    let two = g.c_f32(&[1], &[2.0]);
    let half_f = g.op("Div", &[&excess_f, &two], vec![]);
    let rounded = g.op("Round", &[&half_f], vec![]);
    let half = g.op("Cast", &[&rounded], vec![super::attr_int("to", 7)]);
    let axes = g.c_i64(&[2], &[1, 2]);
    let mut out = Vec::new();
    for v in views {
        // start = centre_mask · half + end_mask · excess (start-anchored axes stay 0)
        let mc = g.c_i64(&[2], &mask(v, Anchor::Centre));
        let me = g.c_i64(&[2], &mask(v, Anchor::End));
        let a = g.op("Mul", &[&half, &mc], vec![]);
        let b = g.op("Mul", &[&excess, &me], vec![]);
        let start = g.op("Add", &[&a, &b], vec![]);
        let end = g.op("Add", &[&start, &side], vec![]);
        let mut c = g.op("Slice", &[resized, &start, &end, &axes], vec![]);
        if v.flip {
            c = mirror(g, &c);
        }
        out.push(c);
    }
    out
}
