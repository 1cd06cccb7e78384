//! Building ONNX graphs in Rust (`onnx-protobuf`): small constructors for nodes, attributes,
//! constant tensors and typed graph ports, plus [`upgrade`] (raising a graph's opset, converting
//! the ops whose signatures changed) and [`compose`] (preprocessing + backbone + head in one file).

pub mod compose;
pub mod dense;
pub mod f16;
pub mod upgrade;

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{AttributeProto, NodeProto, TensorProto, TypeProto, ValueInfoProto};

/// Prefix of every tensor, node and initializer the composer adds, so they never collide with
/// the backbone's own names.
pub const PREFIX: &str = "pipeline/";

/// Why a graph could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the backbone uses opset {found} of the default ONNX domain; exporting needs opset 11 or newer; re-export the backbone with a newer exporter (opset 13–17)")]
    OpsetTooOld { found: i64 },
    #[error("the backbone's node `{node}` ({op}) cannot be raised from opset {from} to {to}: {reason}; re-export the backbone at opset {to}")]
    Upgrade {
        node: String,
        op: String,
        from: i64,
        to: i64,
        reason: String,
    },
    #[error("the backbone graph is unusable for export: {0}")]
    Graph(String),
}

/// One dimension of a graph port: fixed or named dynamic.
#[derive(Debug, Clone)]
pub enum Dim {
    Fixed(i64),
    Param(&'static str),
}

/// A node in the default domain.
pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: op.to_owned(),
        name: name.to_owned(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attrs,
        ..Default::default()
    }
}

fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto {
        name: name.to_owned(),
        type_: kind.into(),
        ..Default::default()
    }
}

/// An integer attribute.
pub fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        i: v,
        ..attr(name, AttributeType::INT)
    }
}

/// An integer-list attribute.
pub fn attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        ints: v.to_vec(),
        ..attr(name, AttributeType::INTS)
    }
}

/// A string attribute.
pub fn attr_str(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: v.as_bytes().to_vec(),
        ..attr(name, AttributeType::STRING)
    }
}

/// A float32 constant tensor (`raw_data`, little-endian).
pub fn tensor_f32(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: name.to_owned(),
        dims: dims.to_vec(),
        data_type: DataType::FLOAT as i32,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// An int64 constant tensor.
pub fn tensor_i64(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: name.to_owned(),
        dims: dims.to_vec(),
        data_type: DataType::INT64 as i32,
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

/// A typed graph input or output.
pub fn port(name: &str, elem: DataType, dims: &[Dim]) -> ValueInfoProto {
    let mut ty = TypeProto::new();
    let tensor = ty.mut_tensor_type();
    tensor.elem_type = elem as i32;
    let shape = tensor.shape.mut_or_insert_default();
    for d in dims {
        let mut dim = onnx_protobuf::tensor_shape_proto::Dimension::new();
        match d {
            Dim::Fixed(v) => dim.set_dim_value(*v),
            Dim::Param(p) => dim.set_dim_param(p.to_string()),
        }
        shape.dim.push(dim);
    }
    ValueInfoProto {
        name: name.to_owned(),
        type_: Some(ty).into(),
        ..Default::default()
    }
}
