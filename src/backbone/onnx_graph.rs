//! Reading an ONNX file's metadata and weights inventory (ONNX protobuf schema, `onnx-protobuf`).
//!
//! Parameter counts come from the dims of the graph's initializers, so external-data initializers
//! count too. Floating-point initializers with at least one axis are parameters, and so are the
//! integer weights of a quantised model (input 0 of a DequantizeLinear); integer shapes and indices,
//! 0-d floats (Clip bounds) and quantisation scales and zero points are constants, not counted, so
//! a model and its int8 build count the same. Layers group each parameter with the first node
//! consuming it.

mod error;

pub use error::{OnnxGraphError, MODEL_HINT};
use onnx_protobuf::{Message, ModelProto, TensorProto, ValueInfoProto};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// One tensor dimension as declared in the graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Dim {
    Fixed(i64),
    /// Named (`batch`) or unnamed (`?`) dynamic dimension.
    Symbolic(String),
}

impl std::fmt::Display for Dim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dim::Fixed(v) => write!(f, "{v}"),
            Dim::Symbolic(s) => write!(f, "{s}"),
        }
    }
}

/// A graph input or output.
#[derive(Debug, Clone, Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub elem_type: String,
    pub dims: Vec<Dim>,
}

/// One initializer: name, shape, element count.
#[derive(Debug, Clone, Serialize)]
pub struct Initializer {
    pub name: String,
    pub elem_type: String,
    pub dims: Vec<i64>,
    pub count: u64,
    /// Stored outside the `.onnx` file (ONNX external data).
    pub external: bool,
    /// Floating point, hence counted as a parameter.
    pub is_parameter: bool,
}

/// A node owning parameters, e.g. `Conv` with its weight and bias.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    pub name: String,
    pub op_type: String,
    pub weights: Vec<Initializer>,
    pub count: u64,
}

/// Everything `info` and `params` print about a model file.
#[derive(Debug, Clone, Serialize)]
pub struct ModelSummary {
    pub path: PathBuf,
    pub file_bytes: u64,
    pub ir_version: i64,
    /// `(domain, version)`; the default domain is `ai.onnx`.
    pub opsets: Vec<(String, i64)>,
    pub producer_name: String,
    pub producer_version: String,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    pub node_count: usize,
    /// Parameter-owning layers in graph order.
    pub layers: Vec<Layer>,
    /// Op type → number of nodes without parameters (`Relu` → 15).
    pub other_ops: BTreeMap<String, usize>,
    /// Initializers that are not parameters: non-float ones (shapes, indices), 0-d floats
    /// (operator constants such as Clip bounds) and quantisation scales and zero points.
    pub constants: usize,
    pub parameter_count: u64,
}

/// Parses the whole ONNX file (protobuf) and summarises it.
pub fn read(path: &Path) -> Result<ModelSummary, OnnxGraphError> {
    let model = parse(path)?;
    let file_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    summarise(path, file_bytes, &model)
}

fn parse(path: &Path) -> Result<ModelProto, OnnxGraphError> {
    let (file, bytes) = crate::file_check::open(path, crate::file_check::MAX_MODEL)
        .map_err(|e| OnnxGraphError::io(path, e))?;
    if bytes == 0 {
        return Err(OnnxGraphError::Empty {
            path: path.to_owned(),
        });
    }
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let first = std::io::BufRead::fill_buf(&mut reader)
        .ok()
        .and_then(|b| b.first().copied());
    ModelProto::parse_from_reader(&mut reader).map_err(|e| {
        let reason = e.to_string();
        let lower = reason.to_ascii_lowercase();
        // Every ONNX writer serialises field 1 (ir_version, varint) first: tag byte 0x08.
        if first != Some(0x08) {
            return OnnxGraphError::NotOnnx {
                path: path.to_owned(),
                reason: "it does not start like an ONNX protobuf".into(),
            };
        }
        if ["eof", "end of file", "truncated"]
            .iter()
            .any(|k| lower.contains(k))
        {
            OnnxGraphError::Truncated {
                path: path.to_owned(),
                bytes,
                reason,
            }
        } else {
            OnnxGraphError::NotOnnx {
                path: path.to_owned(),
                reason: format!("protobuf parse failed: {reason}"),
            }
        }
    })
}

fn summarise(
    path: &Path,
    file_bytes: u64,
    model: &ModelProto,
) -> Result<ModelSummary, OnnxGraphError> {
    let not_onnx = |reason: &str| OnnxGraphError::NotOnnx {
        path: path.to_owned(),
        reason: reason.to_string(),
    };
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| not_onnx("no graph in the file"))?;
    if model.ir_version <= 0 || graph.node.is_empty() || graph.output.is_empty() {
        return Err(not_onnx("no IR version, nodes or outputs"));
    }
    if model.opset_import.is_empty() {
        return Err(not_onnx("no opset import; the file may be truncated"));
    }
    let mut inits: Vec<Initializer> = graph.initializer.iter().map(initializer).collect();
    // A quantised model stores each weight as DequantizeLinear(x_int, scale, zero_point): the
    // integer tensor is the parameter, its scale and zero point are constants.
    for node in graph
        .node
        .iter()
        .filter(|n| n.op_type == "DequantizeLinear")
    {
        for (k, name) in node.input.iter().enumerate().take(3) {
            if let Some(t) = inits.iter_mut().find(|t| &t.name == name) {
                t.is_parameter = k == 0;
            }
        }
    }
    let init_names: HashMap<&str, usize> = inits
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let (layers, other_ops) = group_layers(&graph.node, &inits, &init_names);
    let inputs = graph
        .input
        .iter()
        .filter(|v| !init_names.contains_key(v.name.as_str()))
        .map(tensor_info)
        .collect();
    Ok(ModelSummary {
        path: path.to_owned(),
        file_bytes,
        ir_version: model.ir_version,
        opsets: model
            .opset_import
            .iter()
            .map(|o| (domain_name(&o.domain), o.version))
            .collect(),
        producer_name: model.producer_name.clone(),
        producer_version: model.producer_version.clone(),
        inputs,
        outputs: graph.output.iter().map(tensor_info).collect(),
        node_count: graph.node.len(),
        constants: inits.iter().filter(|t| !t.is_parameter).count(),
        parameter_count: inits
            .iter()
            .filter(|t| t.is_parameter)
            .map(|t| t.count)
            .sum(),
        layers,
        other_ops,
    })
}

/// Assigns each parameter to the first node that reads it; parameters no node reads form a
/// final `(unused)` layer so that the layers always add up to the total.
fn group_layers(
    nodes: &[onnx_protobuf::NodeProto],
    inits: &[Initializer],
    index: &HashMap<&str, usize>,
) -> (Vec<Layer>, BTreeMap<String, usize>) {
    let mut taken = vec![false; inits.len()];
    let mut layers = Vec::new();
    let mut other_ops = BTreeMap::new();
    for (n, node) in nodes.iter().enumerate() {
        let mut weights = Vec::new();
        for input in &node.input {
            if let Some(&i) = index.get(input.as_str()) {
                if !taken[i] && inits[i].is_parameter {
                    taken[i] = true;
                    weights.push(inits[i].clone());
                }
            }
        }
        if weights.is_empty() {
            *other_ops.entry(node.op_type.clone()).or_insert(0) += 1;
            continue;
        }
        let name = layer_name(node, n, &weights);
        layers.push(make_layer(name, node.op_type.clone(), weights));
    }
    let unused: Vec<Initializer> = inits
        .iter()
        .zip(&taken)
        .filter(|(t, &done)| t.is_parameter && !done)
        .map(|(t, _)| t.clone())
        .collect();
    if !unused.is_empty() {
        layers.push(make_layer("(unused)".into(), "-".into(), unused));
    }
    (layers, other_ops)
}

/// `features.0.weight` → `features.0` (PyTorch naming); else the node name, else `Op_<index>`.
fn layer_name(node: &onnx_protobuf::NodeProto, index: usize, weights: &[Initializer]) -> String {
    if let Some(stem) = weights.first().and_then(|w| w.name.strip_suffix(".weight")) {
        return stem.to_string();
    }
    if node.name.is_empty() {
        return format!("{}_{index}", node.op_type);
    }
    // torch.onnx scope names: `/body/_blocks.0/_project_conv/Conv` → `body._blocks.0._project_conv`.
    match node.name.strip_prefix('/') {
        Some(scoped) => {
            let op_suffix = format!("/{}", node.op_type);
            let trimmed = scoped.strip_suffix(op_suffix.as_str()).unwrap_or(scoped);
            trimmed.replace('/', ".")
        }
        None => node.name.clone(),
    }
}

fn make_layer(name: String, op_type: String, weights: Vec<Initializer>) -> Layer {
    let count = weights.iter().map(|w| w.count).sum();
    Layer {
        name,
        op_type,
        weights,
        count,
    }
}

fn initializer(t: &TensorProto) -> Initializer {
    let count = t.dims.iter().map(|&d| d.max(0) as u64).product();
    Initializer {
        name: t.name.clone(),
        elem_type: elem_type_name(t.data_type),
        dims: t.dims.clone(),
        count,
        external: t.data_location.value() == 1 || !t.external_data.is_empty(),
        // float tensors with at least one axis: a 0-d float is a constant of an operator (ReLU6's
        // Clip bounds, a quantisation scale), not a learned weight
        is_parameter: matches!(t.data_type, 1 | 10 | 11 | 16) && !t.dims.is_empty(),
    }
}

fn tensor_info(v: &ValueInfoProto) -> TensorInfo {
    use onnx_protobuf::tensor_shape_proto::dimension::Value as D;
    use onnx_protobuf::type_proto::Value as T;
    let (elem_type, dims) = match v.type_.as_ref().and_then(|t| t.value.as_ref()) {
        Some(T::TensorType(t)) => {
            let dims = t
                .shape
                .as_ref()
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match &d.value {
                            Some(D::DimValue(x)) => Dim::Fixed(*x),
                            Some(D::DimParam(p)) if !p.is_empty() => Dim::Symbolic(p.clone()),
                            _ => Dim::Symbolic("?".into()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            (elem_type_name(t.elem_type), dims)
        }
        _ => ("non-tensor".to_string(), Vec::new()),
    };
    TensorInfo {
        name: v.name.clone(),
        elem_type,
        dims,
    }
}

fn domain_name(domain: &str) -> String {
    if domain.is_empty() {
        "ai.onnx".into()
    } else {
        domain.into()
    }
}

/// ONNX `TensorProto.DataType` code → short name.
pub fn elem_type_name(code: i32) -> String {
    let name = match code {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        other => return format!("type#{other}"),
    };
    name.to_string()
}

impl ModelSummary {
    /// The output named `name` (or the first output).
    pub fn output(&self, name: Option<&str>) -> Option<&TensorInfo> {
        match name {
            Some(n) => self.outputs.iter().find(|o| o.name == n),
            None => self.outputs.first(),
        }
    }

    /// Features per image of an output when every non-batch dim is fixed: `[batch,512,1,1]` → 512.
    pub fn static_feature_width(&self, name: Option<&str>) -> Option<usize> {
        let out = self.output(name)?;
        if out.dims.len() < 2 {
            return None;
        }
        out.dims[1..].iter().try_fold(1usize, |acc, d| match d {
            Dim::Fixed(v) if *v > 0 => acc.checked_mul(*v as usize),
            _ => None,
        })
    }

    /// Default-domain opset version, if declared.
    pub fn opset(&self) -> Option<i64> {
        self.opsets
            .iter()
            .find(|(d, _)| d == "ai.onnx")
            .map(|(_, v)| *v)
    }
}

/// `[batch, 3, 224, 224]`.
pub fn format_dims(dims: &[Dim]) -> String {
    let parts: Vec<String> = dims.iter().map(Dim::to_string).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests;
