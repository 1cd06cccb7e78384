//! Dense views in the graph, as `crate::features::dense` computes them: the image resized to
//! shorter side `resize_shorter` (longer side capped at `MAX_ASPECT` times it, centre kept) and,
//! when a view is flipped, its mirror go through the map body as one batch; each view is a window of `k × k`
//! cells at `round(x · k / crop)` (ties to even, clamped inside the map) or the whole map,
//! averaged per channel.

use super::{attr_int, views, Graph};
use crate::features::dense::MAX_ASPECT;
use crate::features::views::{Geometry, Pos, View as RunView};
use crate::onnx_build::compose::views::{Anchor, View};

/// One dense view: the window of the crop at anchors `(y, x)`, or (`None`) the global mean;
/// from the mirror's map when `flip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DenseView {
    pub at: Option<(Anchor, Anchor)>,
    pub flip: bool,
}

/// The dense views of a run and the map cells a crop covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenseSpec {
    pub window: i64,
    pub views: Vec<DenseView>,
}

impl DenseSpec {
    /// Whether a view is pooled from the mirror's map (else the mirror is not computed).
    pub fn mirrored(&self) -> bool {
        self.views.iter().any(|v| v.flip)
    }
}

/// `image` uint8 `[1,H,W,3]` → uint8 `[2,h,w,3]` (image, mirror), or `[1,h,w,3]` (the image
/// alone) unless `mirrored`, and `[h, w]` int64.
pub(super) fn pair(g: &mut Graph, resize_shorter: i64, mirrored: bool) -> (String, String) {
    let shape = g.op("Shape", &["image"], vec![]);
    let idx = g.c_i64(&[2], &[1, 2]);
    let hw = g.op("Gather", &[&shape, &idx], vec![attr_int("axis", 0)]);
    let short = g.op("ReduceMin", &[&hw], vec![attr_int("keepdims", 1)]);
    let r = g.c_i64(&[1], &[resize_shorter]);
    let scaled = g.op("Mul", &[&hw, &r], vec![]);
    let sizes = g.op("Div", &[&scaled, &short], vec![]);
    let resized = views::resize(g, "image", &sizes);
    let cap = g.c_i64(&[1], &[resize_shorter * MAX_ASPECT as i64]);
    let len = g.op("Min", &[&sizes, &cap], vec![]);
    let excess = g.op("Sub", &[&sizes, &len], vec![]);
    let start = half_round(g, &excess);
    let end = g.op("Add", &[&start, &len], vec![]);
    let axes = g.c_i64(&[2], &[1, 2]);
    let kept = g.op("Slice", &[&resized, &start, &end, &axes], vec![]);
    if !mirrored {
        return (kept, len);
    }
    let mirrored = views::mirror(g, &kept);
    let both = g.op("Concat", &[&kept, &mirrored], vec![attr_int("axis", 0)]);
    (both, len)
}

/// `round(x / 2)` of an int64 tensor, ties to even (torchvision's `CenterCrop` rounding).
fn half_round(g: &mut Graph, x: &str) -> String {
    let f = g.op("Cast", &[x], vec![attr_int("to", 1)]);
    let two = g.c_f32(&[1], &[2.0]);
    let half = g.op("Div", &[&f, &two], vec![]);
    let r = g.op("Round", &[&half], vec![]);
    g.op("Cast", &[&r], vec![attr_int("to", 7)])
}

/// Mean over axes 2 and 3, dropped: `[1,C,a,b]` → `[1,C]`.
fn spatial_mean(g: &mut Graph, x: &str) -> String {
    let axes = g.c_i64(&[2], &[2, 3]);
    g.op("ReduceMean", &[x, &axes], vec![attr_int("keepdims", 0)])
}

/// The maps `[2,C,mh,mw]` (image, mirror; `[1,…]` when no view is flipped) of an input of size
/// `hw` → the views' rows `[V,C]`.
pub(super) fn pool(g: &mut Graph, map: &str, hw: &str, crop: i64, spec: &DenseSpec) -> String {
    let k = spec.window;
    let shape = g.op("Shape", &[map], vec![]);
    let idx = g.c_i64(&[2], &[2, 3]);
    let mhw = g.op("Gather", &[&shape, &idx], vec![attr_int("axis", 0)]);
    let kk = g.c_i64(&[1], &[k]);
    let zero = g.c_i64(&[1], &[0]);
    let room = g.op("Sub", &[&mhw, &kk], vec![]);
    let last = g.op("Max", &[&room, &zero], vec![]);
    let c = g.c_i64(&[1], &[crop]);
    let excess = g.op("Sub", &[hw, &c], vec![]);
    let half = half_round(g, &excess);
    let (kf, cf) = (g.c_f32(&[1], &[k as f32]), g.c_f32(&[1], &[crop as f32]));
    let axes = g.c_i64(&[3], &[0, 2, 3]);
    let axis0 = g.c_i64(&[1], &[0]);
    let mut rows = Vec::new();
    for v in &spec.views {
        let img = v.flip as i64;
        let (i0, i1) = (g.c_i64(&[1], &[img]), g.c_i64(&[1], &[img + 1]));
        let Some((y, x)) = v.at else {
            let one = g.op("Slice", &[map, &i0, &i1, &axis0], vec![]);
            rows.push(spatial_mean(g, &one));
            continue;
        };
        let mask = |a: Anchor| [(y == a) as i64, (x == a) as i64];
        let mc = g.c_i64(&[2], &mask(Anchor::Centre));
        let me = g.c_i64(&[2], &mask(Anchor::End));
        let a = g.op("Mul", &[&half, &mc], vec![]);
        let b = g.op("Mul", &[&excess, &me], vec![]);
        let mut px = g.op("Add", &[&a, &b], vec![]);
        if v.flip {
            // On the mirror, the crop at x sits at (w − crop) − x.
            let neg = g.c_i64(&[2], &[1, -1]);
            let keep_x = g.c_i64(&[2], &[0, 1]);
            let m = g.op("Mul", &[&px, &neg], vec![]);
            let e = g.op("Mul", &[&excess, &keep_x], vec![]);
            px = g.op("Add", &[&m, &e], vec![]);
        }
        let pf = g.op("Cast", &[&px], vec![attr_int("to", 1)]);
        let scaled = g.op("Mul", &[&pf, &kf], vec![]);
        let cells = g.op("Div", &[&scaled, &cf], vec![]);
        let cells = g.op("Round", &[&cells], vec![]);
        let cells = g.op("Cast", &[&cells], vec![attr_int("to", 7)]);
        let cells = g.op("Min", &[&cells, &last], vec![]);
        let ends = g.op("Add", &[&cells, &kk], vec![]);
        let starts = g.op("Concat", &[&i0, &cells], vec![attr_int("axis", 0)]);
        let ends = g.op("Concat", &[&i1, &ends], vec![attr_int("axis", 0)]);
        let win = g.op("Slice", &[map, &starts, &ends, &axes], vec![]);
        rows.push(spatial_mean(g, &win));
    }
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    g.op("Concat", &refs, vec![attr_int("axis", 0)])
}

/// A run's test-time views (the features part's [`RunView`]s) as the graph builds them: crop
/// windows and the whole-image view, and dense views (which the graph combines with the
/// whole-image view only).
pub fn graph_views(views: &[RunView]) -> (Vec<View>, Vec<DenseView>) {
    let anchors = |p: Pos| match p {
        Pos::Centre => (Anchor::Centre, Anchor::Centre),
        Pos::TopLeft => (Anchor::Start, Anchor::Start),
        Pos::TopRight => (Anchor::Start, Anchor::End),
        Pos::BottomLeft => (Anchor::End, Anchor::Start),
        Pos::BottomRight => (Anchor::End, Anchor::End),
    };
    let mut dense = Vec::new();
    let mut crops = Vec::new();
    for v in views {
        match v.geometry {
            Geometry::DenseWindow(p) => dense.push(DenseView {
                at: Some(anchors(p)),
                flip: v.flip,
            }),
            Geometry::DenseGlobal => dense.push(DenseView {
                at: None,
                flip: v.flip,
            }),
            Geometry::Whole => crops.push(View::whole(v.flip)),
            Geometry::Crop(p) => {
                let (y, x) = anchors(p);
                crops.push(View {
                    y,
                    x,
                    flip: v.flip,
                    whole: false,
                })
            }
        }
    }
    (crops, dense)
}
