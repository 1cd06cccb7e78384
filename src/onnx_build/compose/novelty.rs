//! The `novelty` output, as [`crate::novelty::Novelty::scores`] computes it: features `[N,D]`
//! → unit rows (LpNormalization) → cosines to the reference rows (one MatMul with the `[D,R]`
//! constant) → the mean of the `k` largest (ReduceMax for `k = 1`, else TopK + ReduceMean)
//! → `1 −` that, at least 0, float32 `[N]`.

use super::{attr_int, attr_ints, node, Graph};
use crate::novelty::Novelty;

/// Adds the nodes computing `novelty` from `feats`.
pub(super) fn novelty(g: &mut Graph, n: &Novelty, feats: &str) {
    let z = g.op(
        "LpNormalization",
        &[feats],
        vec![attr_int("axis", 1), attr_int("p", 2)],
    );
    let (r, d) = n.reference.dim();
    let reference_t: Vec<f32> = n.reference.t().iter().copied().collect();
    let rt = g.c_f32(&[d as i64, r as i64], &reference_t);
    let sims = g.op("MatMul", &[&z, &rt], vec![]); // [N, R]
    let near = if n.k == 1 {
        reduce(g, "ReduceMax", &sims)
    } else {
        let k = g.c_i64(&[1], &[n.k as i64]);
        let (values, indices) = (g.fresh("topk_values"), g.fresh("topk_indices"));
        let name = g.fresh("TopK_node");
        g.nodes.push(node(
            "TopK",
            &name,
            &[&sims, &k],
            &[&values, &indices],
            vec![attr_int("axis", 1)],
        ));
        reduce(g, "ReduceMean", &values)
    };
    let (one, zero) = (g.c_f32(&[], &[1.0]), g.c_f32(&[], &[0.0]));
    let distance = g.op("Sub", &[&one, &near], vec![]);
    g.op_to("Max", &[&distance, &zero], "novelty", vec![]);
}

/// `op` over axis 1 without keeping it, `[N, M]` → `[N]`, in the form of the graph's opset.
fn reduce(g: &mut Graph, op: &str, x: &str) -> String {
    if g.opset >= 18 {
        let axes = g.c_i64(&[1], &[1]);
        g.op(op, &[x, &axes], vec![attr_int("keepdims", 0)])
    } else {
        g.op(
            op,
            &[x],
            vec![attr_ints("axes", &[1]), attr_int("keepdims", 0)],
        )
    }
}
