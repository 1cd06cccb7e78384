//! Raising a model's default-domain opset (11 … 17 → up to 18) in place, converting the ops
//! whose signatures changed on the way: `axes`/`split` attributes that became inputs
//! (Squeeze, Unsqueeze, Split, ReduceSum at 13; the other Reduce* at 18). Softmax, LogSoftmax
//! and Hardmax changed meaning at 13 (2-D coercion → one axis), so a pre-13 graph holding them
//! is refused rather than guessed.

use super::{tensor_i64, BuildError, PREFIX};
use onnx_protobuf::{ModelProto, NodeProto};

/// Reduce ops whose `axes` attribute became an input at opset 18.
const REDUCE_18: [&str; 9] = [
    "ReduceMean",
    "ReduceMax",
    "ReduceMin",
    "ReduceProd",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceSumSquare",
];
/// Ops whose `axes` (or `split`) attribute became an input at opset 13.
const AXES_13: [&str; 4] = ["Squeeze", "Unsqueeze", "ReduceSum", "Split"];
/// Ops whose semantics (not only signature) changed at 13.
const REFUSED_BELOW_13: [&str; 3] = ["Softmax", "LogSoftmax", "Hardmax"];

/// The model's default-domain opset version (ONNX's `""` or `ai.onnx`).
pub fn default_opset(model: &ModelProto) -> Option<i64> {
    model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
}

/// Raises the default-domain opset to `target` (no-op when already there or newer) and the IR
/// version to at least 8. Returns the opset the model now has.
pub fn raise_opset(model: &mut ModelProto, target: i64) -> Result<i64, BuildError> {
    let from = default_opset(model)
        .ok_or_else(|| BuildError::Graph("no opset import for the default ONNX domain".into()))?;
    if from < 11 {
        return Err(BuildError::OpsetTooOld { found: from });
    }
    model.ir_version = model.ir_version.max(8);
    if from >= target {
        return Ok(from);
    }
    let graph = model
        .graph
        .as_mut()
        .ok_or_else(|| BuildError::Graph("no graph".into()))?;
    let mut extra = Vec::new();
    for (i, n) in graph.node.iter_mut().enumerate() {
        if !(n.domain.is_empty() || n.domain == "ai.onnx") {
            continue;
        }
        let moves = (from < 13 && AXES_13.contains(&n.op_type.as_str()))
            || (from < 18 && target >= 18 && REDUCE_18.contains(&n.op_type.as_str()));
        if from < 13 && REFUSED_BELOW_13.contains(&n.op_type.as_str()) {
            return Err(upgrade_err(
                n,
                from,
                target,
                "its axis semantics changed at opset 13",
            ));
        }
        if moves {
            if let Some(t) = attr_to_input(n, i) {
                extra.push(t);
            }
        }
    }
    graph.initializer.extend(extra);
    for o in model.opset_import.iter_mut() {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            o.version = target;
        }
    }
    Ok(target)
}

fn upgrade_err(n: &NodeProto, from: i64, to: i64, reason: &str) -> BuildError {
    BuildError::Upgrade {
        node: n.name.clone(),
        op: n.op_type.clone(),
        from,
        to,
        reason: reason.into(),
    }
}

/// Moves the `axes` (or Split's `split`) attribute of node `i` to its second input; returns the
/// new int64 initializer, or `None` when the node had no such attribute (defaults unchanged).
fn attr_to_input(n: &mut NodeProto, i: usize) -> Option<onnx_protobuf::TensorProto> {
    let key = if n.op_type == "Split" {
        "split"
    } else {
        "axes"
    };
    let pos = n.attribute.iter().position(|a| a.name == key)?;
    let values = n.attribute.remove(pos).ints;
    let name = format!("{PREFIX}upgrade/{i}/{key}");
    // The data input stays first; `axes`/`split` is always the second input.
    n.input.truncate(1);
    n.input.push(name.clone());
    Some(tensor_i64(&name, &[values.len() as i64], &values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx_build::{attr_ints, node};
    use onnx_protobuf::{GraphProto, OperatorSetIdProto};

    fn model(op: &str, opset: i64) -> ModelProto {
        let n = node(op, "n0", &["x"], &["y"], vec![attr_ints("axes", &[2, 3])]);
        ModelProto {
            ir_version: 7,
            opset_import: vec![OperatorSetIdProto {
                version: opset,
                ..Default::default()
            }],
            graph: Some(GraphProto {
                node: vec![n],
                ..Default::default()
            })
            .into(),
            ..Default::default()
        }
    }

    #[test]
    fn reduce_mean_axes_become_an_input_at_18() {
        let mut m = model("ReduceMean", 13);
        assert_eq!(raise_opset(&mut m, 18).unwrap(), 18);
        let g = m.graph.as_ref().unwrap();
        assert!(g.node[0].attribute.is_empty());
        assert_eq!(g.node[0].input.len(), 2);
        assert_eq!(g.initializer[0].dims, vec![2]);
        assert_eq!(default_opset(&m), Some(18));
        assert_eq!(m.ir_version, 8);
    }

    #[test]
    fn unsqueeze_moves_only_below_13() {
        let mut m = model("Unsqueeze", 13);
        raise_opset(&mut m, 18).unwrap();
        assert_eq!(m.graph.as_ref().unwrap().node[0].attribute.len(), 1);
        let mut old = model("Unsqueeze", 11);
        raise_opset(&mut old, 18).unwrap();
        assert!(old.graph.as_ref().unwrap().node[0].attribute.is_empty());
    }

    #[test]
    fn refuses_old_softmax_and_ancient_opsets() {
        assert!(matches!(
            raise_opset(&mut model("Softmax", 11), 18),
            Err(BuildError::Upgrade { .. })
        ));
        assert!(matches!(
            raise_opset(&mut model("Relu", 9), 18),
            Err(BuildError::OpsetTooOld { found: 9 })
        ));
    }
}
