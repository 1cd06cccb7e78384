//! One classifier graph: uint8 pixels → the eval transform → backbone → head → Softmax.
//!
//! `--input image`: `image` uint8 `[1, H, W, 3]` RGB, any size → Resize (shorter side →
//! `resize_shorter`, bilinear, antialias, half-pixel; ONNX Runtime's uint8 path is PIL's
//! algorithm) → the views' crop windows → normalise → backbone → mean over views → head.
//! `--input crop`: `crop` uint8 `[N, S, S, 3]` RGB centre crops, batched, one view each.
//! Outputs `logits` and `probabilities`, float32 `[N, K]`, and `novelty`, float32 `[N]`, when
//! the run has a novelty score ([`crate::novelty`]).

mod concat;
pub mod dense;
mod head;
mod novelty;
pub mod views;

use super::upgrade::{default_opset, raise_opset};
use super::PREFIX;
use super::{attr_int, attr_ints, attr_str, node, port, tensor_f32, tensor_i64, BuildError, Dim};
use crate::backbone::sidecar::{ChannelOrder, Layout};
use crate::checkpoint::HeadModel;
use crate::preprocess::PreprocessConfig;
pub use concat::compose_concat;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{ModelProto, NodeProto, TensorProto};
use std::collections::HashSet;
pub use views::View;

/// The graph input's contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// uint8 RGB `[1, H, W, 3]`, any size; the whole eval transform runs in the graph.
    Image,
    /// uint8 RGB `[N, S, S, 3]` crops already resized and centre-cropped.
    Crop,
}

impl InputKind {
    /// Name of the graph input.
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Image => "image",
            InputKind::Crop => "crop",
        }
    }
}

/// What to compose around the backbone.
pub struct Spec<'a> {
    pub input: InputKind,
    pub pre: &'a PreprocessConfig,
    /// Views averaged in feature space (`--input image` only; crops are one view).
    pub views: &'a [View],
    pub head: &'a HeadModel,
    /// Scale the (view-averaged) feature row to unit length before the head, as the run does.
    pub l2_normalize: bool,
    pub backbone_input: &'a str,
    pub backbone_output: &'a str,
    /// Run the backbone in float16 (see [`super::f16`]).
    pub f16: bool,
    /// Dense views instead of `views` (`--input image` only): the backbone is then the map body
    /// of `super::dense::map_model` and `backbone_output` its map.
    pub dense: Option<&'a dense::DenseSpec>,
    /// The run's novelty score, computed as a third output `novelty` when given.
    pub novelty: Option<&'a crate::novelty::Novelty>,
}

/// Opset the in-graph antialiased `Resize` needs.
pub const RESIZE_OPSET: i64 = 18;
/// Opset whose Softmax/ReduceMean forms the composer writes below [`RESIZE_OPSET`].
const MIN_OPSET: i64 = 13;

/// Nodes and initializers being added, with unique names under [`PREFIX`].
pub(crate) struct Graph {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    count: usize,
    opset: i64,
}

impl Graph {
    fn fresh(&mut self, what: &str) -> String {
        self.count += 1;
        format!("{PREFIX}{what}_{}", self.count)
    }
    /// Adds `op` with a fresh output name; returns it.
    pub(crate) fn op(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<onnx_protobuf::AttributeProto>,
    ) -> String {
        let out = self.fresh(op);
        self.op_to(op, inputs, &out, attrs);
        out
    }
    fn op_to(
        &mut self,
        op: &str,
        inputs: &[&str],
        out: &str,
        attrs: Vec<onnx_protobuf::AttributeProto>,
    ) {
        let name = self.fresh(&format!("{op}_node"));
        self.nodes.push(node(op, &name, inputs, &[out], attrs));
    }
    pub(crate) fn c_i64(&mut self, dims: &[i64], data: &[i64]) -> String {
        let name = self.fresh("const");
        self.inits.push(tensor_i64(&name, dims, data));
        name
    }
    /// A uint8 scalar constant (e.g. `Pad`'s fill value for an image).
    pub(crate) fn c_u8_scalar(&mut self, v: u8) -> String {
        let name = self.fresh("const");
        self.inits.push(onnx_protobuf::TensorProto {
            name: name.clone(),
            data_type: onnx_protobuf::tensor_proto::DataType::UINT8 as i32,
            raw_data: vec![v],
            ..Default::default()
        });
        name
    }
    pub(crate) fn c_f32(&mut self, dims: &[i64], data: &[f32]) -> String {
        let name = self.fresh("const");
        self.inits.push(tensor_f32(&name, dims, data));
        name
    }
    /// `ReduceMean` over `axis`, keeping it, in the form of this graph's opset.
    fn reduce_mean(&mut self, x: &str, axis: i64) -> String {
        if self.opset >= 18 {
            let axes = self.c_i64(&[1], &[axis]);
            self.op("ReduceMean", &[x, &axes], vec![attr_int("keepdims", 1)])
        } else {
            self.op(
                "ReduceMean",
                &[x],
                vec![attr_ints("axes", &[axis]), attr_int("keepdims", 1)],
            )
        }
    }
}

/// Composes the classifier around `backbone` (consumed); raises its opset as needed.
pub fn compose(mut backbone: ModelProto, spec: &Spec) -> Result<ModelProto, BuildError> {
    let target = match spec.input {
        InputKind::Image => RESIZE_OPSET,
        InputKind::Crop => MIN_OPSET,
    };
    let opset = raise_opset(&mut backbone, target)?;
    debug_assert_eq!(default_opset(&backbone), Some(opset));
    check_names(&backbone, spec)?;
    let mut g = Graph {
        nodes: Vec::new(),
        inits: Vec::new(),
        count: 0,
        opset,
    };
    let graph = backbone.graph.as_mut().expect("checked by check_names");
    let feats = features(&mut g, graph, spec)?;
    finish(g, graph, spec, &feats);
    Ok(backbone)
}

/// Adds the eval transform, the backbone's nodes (moved out of `graph`) and the view averaging
/// to `g`; returns the name of the `[N, D]` feature rows. With dense views and whole-image
/// `views` together, the map body runs twice: on the dense pair and, as a renamed copy sharing
/// the weights, on the whole-image views, whose rows are their maps' global means.
pub(crate) fn features(
    g: &mut Graph,
    graph: &mut onnx_protobuf::GraphProto,
    spec: &Spec,
) -> Result<String, BuildError> {
    let mut dense_hw = None;
    let mut extra = None;
    let crops = match (spec.input, spec.dense) {
        (InputKind::Image, Some(d)) => {
            if !spec.views.is_empty() {
                extra = Some(whole_views(g, spec)?);
            }
            let (pair, hw) = dense::pair(g, spec.pre.resize_shorter as i64, d.mirrored());
            dense_hw = Some(hw);
            pair
        }
        (InputKind::Image, None) => resize_and_crop(g, spec)?,
        (InputKind::Crop, _) => spec.input.name().to_owned(),
    };
    if spec.f16 {
        super::f16::graph_to_f16(graph)?;
    }
    let mut copy = None;
    if let Some(wholes) = &extra {
        let (nodes, input, output) =
            renamed_copy(graph, spec.backbone_input, spec.backbone_output, "whole")?;
        feed(g, spec, wholes, &input);
        copy = Some((nodes, output));
    }
    feed(g, spec, &crops, spec.backbone_input);
    g.nodes.append(&mut graph.node);
    let mut feats = spec.backbone_output.to_owned();
    if spec.f16 {
        feats = g.op("Cast", &[&feats], vec![attr_int("to", 1)]);
    }
    let (feats, views) = match (spec.dense, dense_hw) {
        (Some(d), Some(hw)) => {
            let rows = dense::pool(g, &feats, &hw, spec.pre.crop as i64, d);
            match copy {
                Some((mut nodes, map)) => {
                    g.nodes.append(&mut nodes);
                    let map = if spec.f16 {
                        g.op("Cast", &[&map], vec![attr_int("to", 1)])
                    } else {
                        map
                    };
                    let axes = g.c_i64(&[2], &[2, 3]);
                    let wholes = g.op("ReduceMean", &[&map, &axes], vec![attr_int("keepdims", 0)]);
                    (
                        g.op("Concat", &[&rows, &wholes], vec![attr_int("axis", 0)]),
                        d.views.len() + spec.views.len(),
                    )
                }
                None => (rows, d.views.len()),
            }
        }
        _ if spec.input == InputKind::Image => (
            g.op("Flatten", &[&feats], vec![attr_int("axis", 1)]),
            spec.views.len(),
        ),
        _ => (g.op("Flatten", &[&feats], vec![attr_int("axis", 1)]), 1),
    };
    Ok(if views > 1 {
        g.reduce_mean(&feats, 0)
    } else {
        feats
    })
}

/// Normalises the uint8 `crops` into `input`, through a Cast when the backbone runs in f16.
fn feed(g: &mut Graph, spec: &Spec, crops: &str, input: &str) {
    if spec.f16 {
        let x = g.fresh("normalised");
        normalise(g, spec.pre, crops, &x);
        g.op_to("Cast", &[&x], input, vec![attr_int("to", 10)]);
    } else {
        normalise(g, spec.pre, crops, input);
    }
}

/// The whole-image views beside dense ones: uint8 `[V,S,S,3]`; any other crop view is refused.
fn whole_views(g: &mut Graph, spec: &Spec) -> Result<String, BuildError> {
    if let Some(v) = spec.views.iter().find(|v| !v.whole) {
        return Err(BuildError::Graph(format!(
            "dense views combine only with the whole-image view in one graph, not with the crop {v:?}; export a run of one --views set"
        )));
    }
    let shape = g.op("Shape", &["image"], vec![]);
    let idx = g.c_i64(&[2], &[1, 2]);
    let hw = g.op("Gather", &[&shape, &idx], vec![attr_int("axis", 0)]);
    let flips: Vec<bool> = spec.views.iter().map(|v| v.flip).collect();
    let mut parts = views::wholes(g, "image", &hw, spec.pre.crop as i64, &flips);
    if parts.len() == 1 {
        return Ok(parts.remove(0));
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    Ok(g.op("Concat", &refs, vec![attr_int("axis", 0)]))
}

/// A copy of `graph`'s nodes with every value and node name that is not an initializer put
/// under `PREFIX tag/` (no backbone name starts with [`PREFIX`], see [`check_names`]), sharing
/// the weights; returns the nodes and the copy's names of `input` and `output`.
fn renamed_copy(
    graph: &onnx_protobuf::GraphProto,
    input: &str,
    output: &str,
    tag: &str,
) -> Result<(Vec<NodeProto>, String, String), BuildError> {
    if let Some(n) = graph.node.iter().find(|n| {
        n.attribute
            .iter()
            .any(|a| a.g.is_some() || !a.graphs.is_empty())
    }) {
        return Err(BuildError::Graph(format!(
            "node `{}` ({}) holds a subgraph, which the second backbone pass of the whole-image view cannot copy; export a run of --views dense instead",
            n.name, n.op_type
        )));
    }
    let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let rename = |n: &str| {
        if n.is_empty() || inits.contains(n) {
            n.to_owned()
        } else {
            format!("{PREFIX}{tag}/{n}")
        }
    };
    let nodes = graph
        .node
        .iter()
        .map(|n| {
            let mut n = n.clone();
            n.input.iter_mut().for_each(|x| *x = rename(x));
            n.output.iter_mut().for_each(|x| *x = rename(x));
            n.name = rename(&n.name);
            n
        })
        .collect();
    Ok((nodes, rename(input), rename(output)))
}

/// Adds the row normalisation, the head and Softmax after `feats`, moves `g`'s nodes and
/// initializers into `graph` and sets its input and outputs.
pub(crate) fn finish(
    mut g: Graph,
    graph: &mut onnx_protobuf::GraphProto,
    spec: &Spec,
    feats: &str,
) {
    if let Some(n) = spec.novelty {
        novelty::novelty(&mut g, n, feats);
    }
    let feats = if spec.l2_normalize {
        g.op(
            "LpNormalization",
            &[feats],
            vec![attr_int("axis", 1), attr_int("p", 2)],
        )
    } else {
        feats.to_owned()
    };
    head::head(&mut g, spec.head, &feats);
    graph.node = std::mem::take(&mut g.nodes);
    graph.initializer.append(&mut g.inits);
    let batch = match spec.input {
        InputKind::Image => Dim::Fixed(1),
        InputKind::Crop => Dim::Param("batch"),
    };
    let s = spec.pre.crop as i64;
    let k = spec.head.num_classes() as i64;
    let input = match spec.input {
        InputKind::Image => port(
            "image",
            DataType::UINT8,
            &[
                Dim::Fixed(1),
                Dim::Param("height"),
                Dim::Param("width"),
                Dim::Fixed(3),
            ],
        ),
        InputKind::Crop => port(
            "crop",
            DataType::UINT8,
            &[batch.clone(), Dim::Fixed(s), Dim::Fixed(s), Dim::Fixed(3)],
        ),
    };
    graph.input = vec![input];
    graph.output = vec![
        port(
            "probabilities",
            DataType::FLOAT,
            &[batch.clone(), Dim::Fixed(k)],
        ),
        port("logits", DataType::FLOAT, &[batch.clone(), Dim::Fixed(k)]),
    ];
    if spec.novelty.is_some() {
        graph
            .output
            .push(port("novelty", DataType::FLOAT, &[batch]));
    }
    graph.value_info.retain(|v| v.name != spec.backbone_input);
    graph.name = format!("{PREFIX}classifier");
}

/// The backbone must take `backbone_input` (its only non-constant input) and give
/// `backbone_output`, and none of its names may clash with the ones added here.
pub(crate) fn check_names(backbone: &ModelProto, spec: &Spec) -> Result<(), BuildError> {
    let graph = backbone
        .graph
        .as_ref()
        .ok_or_else(|| BuildError::Graph("no graph".into()))?;
    let inits: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&str> = graph
        .input
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| !inits.contains(n))
        .collect();
    if inputs != [spec.backbone_input] {
        return Err(BuildError::Graph(format!(
            "expected one input `{}`, the graph takes {inputs:?}",
            spec.backbone_input
        )));
    }
    if !graph.output.iter().any(|o| o.name == spec.backbone_output) {
        return Err(BuildError::Graph(format!(
            "no output `{}`",
            spec.backbone_output
        )));
    }
    let reserved = ["image", "crop", "probabilities", "logits"];
    let clash = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().chain(&n.output))
        .chain(
            inits
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .iter(),
        )
        .find(|n| reserved.contains(&n.as_str()) || n.starts_with(PREFIX))
        .cloned();
    match clash {
        Some(n) => Err(BuildError::Graph(format!(
            "the backbone already uses the name `{n}`, which the classifier needs; rename it in the backbone"
        ))),
        None => Ok(()),
    }
}

/// `image` → resized (shorter side → `resize_shorter`) → the views' crops, uint8 `[V,S,S,3]`.
fn resize_and_crop(g: &mut Graph, spec: &Spec) -> Result<String, BuildError> {
    let pre = spec.pre;
    if pre.resize_shorter < pre.crop {
        return Err(BuildError::Graph(format!(
            "resize_shorter {} is smaller than the crop {}: the padded centre crop is not built in the graph; export with --input crop",
            pre.resize_shorter, pre.crop
        )));
    }
    if spec.views.is_empty() {
        return Err(BuildError::Graph("no views to export".into()));
    }
    let shape = g.op("Shape", &["image"], vec![]);
    let idx = g.c_i64(&[2], &[1, 2]);
    let hw = g.op("Gather", &[&shape, &idx], vec![attr_int("axis", 0)]);
    let crop_views: Vec<View> = spec.views.iter().filter(|v| !v.whole).copied().collect();
    let flips: Vec<bool> = spec
        .views
        .iter()
        .filter(|v| v.whole)
        .map(|v| v.flip)
        .collect();
    let mut parts = views::wholes(g, "image", &hw, pre.crop as i64, &flips);
    if !crop_views.is_empty() {
        parts.splice(0..0, resized_crops(g, spec, &hw, &crop_views));
    }
    if parts.len() == 1 {
        return Ok(parts.remove(0));
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    Ok(g.op("Concat", &refs, vec![attr_int("axis", 0)]))
}

/// The crop views: `image` resized to shorter side `resize_shorter`, then the windows.
fn resized_crops(g: &mut Graph, spec: &Spec, hw: &str, views: &[View]) -> Vec<String> {
    let pre = spec.pre;
    let hw = hw.to_owned();
    let short = g.op("ReduceMin", &[&hw], vec![attr_int("keepdims", 1)]);
    let r = g.c_i64(&[1], &[pre.resize_shorter as i64]);
    let scaled = g.op("Mul", &[&hw, &r], vec![]);
    // torchvision: long side = int(shorter * long / short); integer division truncates the same.
    let sizes = g.op("Div", &[&scaled, &short], vec![]);
    let resized = views::resize(g, "image", &sizes);
    views::crops(g, &resized, &sizes, pre.crop as i64, views)
}

/// uint8 RGB `[N,S,S,3]` → `(x·scale − mean) / std` in the model's channel order and layout,
/// written to `out` (the backbone's input), as the Rust eval transform computes it.
fn normalise(g: &mut Graph, pre: &PreprocessConfig, crops: &str, out: &str) {
    let mut x = g.op("Cast", &[crops], vec![attr_int("to", 1)]);
    if pre.channel_order == ChannelOrder::Bgr {
        let idx = g.c_i64(&[3], &[2, 1, 0]);
        x = g.op("Gather", &[&x, &idx], vec![attr_int("axis", 3)]);
    }
    let n = &pre.normalization;
    let scale = g.c_f32(&[1], &[n.scale]);
    let mean = g.c_f32(&[3], &n.mean);
    let std = g.c_f32(&[3], &n.std);
    let x = g.op("Mul", &[&x, &scale], vec![]);
    let x = g.op("Sub", &[&x, &mean], vec![]);
    match pre.layout {
        Layout::Nhwc => g.op_to("Div", &[&x, &std], out, vec![]),
        Layout::Nchw => {
            let x = g.op("Div", &[&x, &std], vec![]);
            g.op_to(
                "Transpose",
                &[&x],
                out,
                vec![attr_ints("perm", &[0, 3, 1, 2])],
            );
        }
    }
}
