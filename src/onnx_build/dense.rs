//! The feature-map body of a backbone, for dense views: the graph cut before the global average
//! pool that makes its features, with any input height and width.
//!
//! A backbone whose features are `Flatten(GlobalAveragePool(map))` (the VGG-16 conv base,
//! EfficientNet, ResNet …; `QuantizeLinear`/`DequantizeLinear`, `Flatten`, `Reshape`, `Squeeze`
//! and `Identity` may sit between) gives the map itself when cut there. Run on the whole
//! eval-scale image, each crop view is then a window of that map (Simonyan & Zisserman 2015,
//! §3.2, "dense evaluation"). Backbones ending in fully-connected layers are refused.

use super::{port, BuildError, Dim};
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{ModelProto, NodeProto};
use std::collections::{HashMap, HashSet};

/// Name of the map output of the cut graph.
pub const MAP_OUTPUT: &str = "pipeline_map";

/// Ops allowed between the global pool and the features output.
const PASS_THROUGH: [&str; 6] = [
    "Flatten",
    "Reshape",
    "Squeeze",
    "Identity",
    "QuantizeLinear",
    "DequantizeLinear",
];

/// The tensor the global average pool in front of `features` reads: the `[N, C, h, w]` map.
pub fn map_tensor(model: &ModelProto, features: &str) -> Result<String, BuildError> {
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| BuildError::Graph("no graph".into()))?;
    let producer: HashMap<&str, &NodeProto> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(move |o| (o.as_str(), n)))
        .collect();
    let mut name = features;
    let mut path = Vec::new();
    for _ in 0..16 {
        let Some(node) = producer.get(name) else {
            break;
        };
        path.push(node.op_type.as_str());
        if node.op_type == "GlobalAveragePool" || is_spatial_mean(node) {
            return node
                .input
                .first()
                .cloned()
                .ok_or_else(|| BuildError::Graph(format!("node `{}` has no input", node.name)));
        }
        if !PASS_THROUGH.contains(&node.op_type.as_str()) {
            break;
        }
        name = node.input.first().map(String::as_str).unwrap_or("");
    }
    Err(BuildError::Graph(format!(
        "dense views need features that are a global average pool of a feature map; output `{features}` is made by {} — use crop views (--views ten-crop+whole) with this backbone",
        if path.is_empty() { "no node".to_string() } else { path.join(" ← ") }
    )))
}

/// `ReduceMean` over axes {2, 3} (attribute form, opset < 18).
fn is_spatial_mean(node: &NodeProto) -> bool {
    node.op_type == "ReduceMean"
        && node.attribute.iter().any(|a| {
            a.name == "axes" && {
                let mut v = a.ints.clone();
                v.sort_unstable();
                v == [2, 3] || v == [-2, -1]
            }
        })
}

/// `model` cut at the map in front of `features`' global pool: one output [`MAP_OUTPUT`]
/// `[batch, C, h, w]`, input spatial dims made dynamic, nodes the map does not need dropped.
pub fn map_model(mut model: ModelProto, features: &str) -> Result<ModelProto, BuildError> {
    let map = map_tensor(&model, features)?;
    let graph = model.graph.as_mut().expect("checked by map_tensor");
    // Keep the nodes the map depends on (the graph is topologically sorted).
    let mut needed: HashSet<String> = HashSet::from([map.clone()]);
    let mut keep = vec![false; graph.node.len()];
    for (i, n) in graph.node.iter().enumerate().rev() {
        if n.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(n.input.iter().filter(|s| !s.is_empty()).cloned());
        }
    }
    let mut k = keep.iter();
    graph.node.retain(|_| *k.next().unwrap_or(&false));
    graph.initializer.retain(|t| needed.contains(&t.name));
    graph.node.push(super::node(
        "Identity",
        "pipeline_map_out",
        &[&map],
        &[MAP_OUTPUT],
        vec![],
    ));
    let inits: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    for input in graph.input.iter_mut().filter(|i| !inits.contains(&i.name)) {
        let dims = input
            .type_
            .as_mut()
            .and_then(|t| t.mut_tensor_type().shape.as_mut())
            .map(|s| &mut s.dim);
        let Some(dims) = dims else { continue };
        if dims.len() != 4 {
            return Err(BuildError::Graph(format!(
                "input `{}` has rank {}, expected 4",
                input.name,
                dims.len()
            )));
        }
        // Keep the channel axis (the one that is 3), free the others.
        for (i, d) in dims.iter_mut().enumerate() {
            if !(d.has_dim_value() && d.dim_value() == 3 && (i == 1 || i == 3)) {
                d.set_dim_param(["batch", "d1", "d2", "d3"][i].to_string());
            }
        }
    }
    graph.value_info.clear();
    graph.output = vec![port(
        MAP_OUTPUT,
        DataType::FLOAT,
        &[
            Dim::Param("batch"),
            Dim::Param("channels"),
            Dim::Param("map_h"),
            Dim::Param("map_w"),
        ],
    )];
    Ok(model)
}
