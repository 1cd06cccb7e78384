//! The classifier head in the graph: features `[N,D]` → `logits` → `probabilities`, for an MLP,
//! a logistic head or an MLP seed ensemble (log of the members' mean softmax).

use super::{attr_int, Graph};
use crate::checkpoint::HeadModel;

/// Features `[N,D]` → `logits` → `probabilities`.
pub(super) fn head(g: &mut Graph, head: &HeadModel, feats: &str) {
    let gemm = |g: &mut Graph,
                x: &str,
                w: &ndarray::Array2<f32>,
                b: &ndarray::Array1<f32>,
                out: Option<&str>| {
        let (r, c) = w.dim();
        let w = g.c_f32(
            &[r as i64, c as i64],
            &w.iter().copied().collect::<Vec<_>>(),
        );
        let b = g.c_f32(&[b.len() as i64], &b.to_vec());
        let attrs = vec![attr_int("transB", 1)];
        match out {
            Some(o) => {
                g.op_to("Gemm", &[x, &w, &b], o, attrs);
                o.to_owned()
            }
            None => g.op("Gemm", &[x, &w, &b], attrs),
        }
    };
    // Linear → ReLU → Linear of one MLP; returns its logits (named `out` if given).
    let mlp = |g: &mut Graph, m: &crate::head::mlp::Mlp<f32>, out: Option<&str>| {
        let h = gemm(g, feats, &m.w1, &m.b1, None);
        let h = g.op("Relu", &[&h], vec![]);
        gemm(g, &h, &m.w2, &m.b2, out)
    };
    match head {
        HeadModel::Mlp(m) => {
            mlp(g, m, Some("logits"));
        }
        HeadModel::Logistic(l) => {
            gemm(g, feats, &l.weight, &l.bias, Some("logits"));
        }
        HeadModel::MlpEnsemble(ms) => {
            // logits = log(mean of the members' softmax): Softmax(logits) is that mean.
            let probs: Vec<String> = ms
                .iter()
                .map(|m| {
                    let z = mlp(g, m, None);
                    g.op("Softmax", &[&z], vec![attr_int("axis", 1)])
                })
                .collect();
            let refs: Vec<&str> = probs.iter().map(String::as_str).collect();
            let mean = g.op("Mean", &refs, vec![]);
            g.op_to("Log", &[&mean], "logits", vec![]);
        }
    }
    g.op_to(
        "Softmax",
        &["logits"],
        "probabilities",
        vec![attr_int("axis", 1)],
    );
}
