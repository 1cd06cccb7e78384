//! The head's rows of the parameter table: the planned MLP, or the head a run trained.

use super::Row;
use crate::checkpoint::HeadModel;

fn linear(name: String, inp: usize, out: usize) -> Row {
    Row {
        part: "head",
        name,
        op_type: format!("Linear({inp}, {out})"),
        shapes: vec![vec![out as i64, inp as i64], vec![out as i64]],
        count: (inp * out + out) as u64,
        trainable: true,
    }
}

fn plain(name: String, op: &str) -> Row {
    Row {
        part: "head",
        name,
        op_type: op.into(),
        shapes: Vec::new(),
        count: 0,
        trainable: true,
    }
}

/// The MLP's rows for `D → H → K`, named like PyTorch's `Sequential` after `prefix`.
fn mlp_rows(prefix: &str, d: usize, h: usize, k: usize) -> Vec<Row> {
    vec![
        linear(format!("{prefix}0"), d, h),
        plain(format!("{prefix}1"), "ReLU"),
        plain(format!("{prefix}2"), "Dropout"),
        linear(format!("{prefix}3"), h, k),
        plain(format!("{prefix}4"), "LogSoftmax"),
    ]
}

/// The notebook's MLP head's rows for `D → H → K`.
pub fn head_rows(d: usize, h: usize, k: usize) -> Vec<Row> {
    mlp_rows("", d, h, k)
}

/// The rows of a trained head: one MLP, the logistic head's one linear layer, or every member
/// of an ensemble (`m0.0`, `m0.3`, `m1.0`, …).
pub fn trained_head_rows(head: &HeadModel) -> Vec<Row> {
    match head {
        HeadModel::Mlp(m) => {
            let (d, h, k) = m.dims();
            mlp_rows("", d, h, k)
        }
        HeadModel::Logistic(l) => vec![
            plain("0".into(), "L2-normalise"),
            linear("1".into(), l.weight.ncols(), l.weight.nrows()),
            plain("2".into(), "LogSoftmax"),
        ],
        HeadModel::MlpEnsemble(ms) => ms
            .iter()
            .enumerate()
            .flat_map(|(i, m)| {
                let (d, h, k) = m.dims();
                mlp_rows(&format!("m{i}."), d, h, k)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::logistic::LinearHead;
    use ndarray::{Array1, Array2};

    #[test]
    fn logistic_head_counts_its_one_layer() {
        let l = LinearHead {
            weight: Array2::zeros((27, 512)),
            bias: Array1::zeros(27),
        };
        let rows = trained_head_rows(&HeadModel::Logistic(l));
        let n: u64 = rows.iter().map(|r| r.count).sum();
        assert_eq!(n, 512 * 27 + 27);
        assert_eq!(n, 13_851);
    }
}
