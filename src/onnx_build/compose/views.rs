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

/// One crop window (+ mirror) of the resized image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    pub y: Anchor,
    pub x: Anchor,
    pub flip: bool,
}

impl View {
    /// The eval transform's centre crop.
    pub const CENTRE: View = View {
        y: Anchor::Centre,
        x: Anchor::Centre,
        flip: false,
    };

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
            .flat_map(|&flip| five.iter().map(move |&(y, x)| View { y, x, flip }))
            .collect()
    }
}

fn mask(v: &View, which: Anchor) -> [i64; 2] {
    [(v.y == which) as i64, (v.x == which) as i64]
}

/// Emits the crops of `views` from `resized` (uint8 `[1, h, w, 3]`) whose size is `sizes`
/// (int64 `[2]` = `[h, w]`); returns the name of the uint8 `[V, crop, crop, 3]` batch.
pub(super) fn crops(
    g: &mut Graph,
    resized: &str,
    sizes: &str,
    crop: i64,
    views: &[View],
) -> String {
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
            let (s, e) = (g.c_i64(&[1], &[-1]), g.c_i64(&[1], &[i64::MIN]));
            let (ax, step) = (g.c_i64(&[1], &[2]), g.c_i64(&[1], &[-1]));
            c = g.op("Slice", &[&c, &s, &e, &ax, &step], vec![]);
        }
        out.push(c);
    }
    if out.len() == 1 {
        return out.remove(0);
    }
    let refs: Vec<&str> = out.iter().map(String::as_str).collect();
    g.op("Concat", &refs, vec![super::attr_int("axis", 0)])
}
