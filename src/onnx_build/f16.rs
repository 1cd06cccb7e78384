//! Converting a backbone graph to float16: float32 initializers, `Constant` values and typed
//! value infos become float16; the composer casts the normalised input to float16 before the
//! backbone and its features back to float32 after it (the head stays float32). Halves the file;
//! ONNX Runtime runs float16 convolutions fast on GPUs but slowly on most CPUs.

use super::BuildError;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::{GraphProto, TensorProto};

const F32: i32 = DataType::FLOAT as i32;
const F16: i32 = DataType::FLOAT16 as i32;

/// Converts one float32 tensor to float16 in place (raw or `float_data` storage).
fn tensor_to_f16(t: &mut TensorProto) {
    if t.data_type != F32 {
        return;
    }
    let values: Vec<f32> = if t.raw_data.is_empty() {
        std::mem::take(&mut t.float_data)
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    t.raw_data = values
        .iter()
        .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
        .collect();
    t.float_data.clear();
    t.data_type = F16;
}

/// Converts every float32 tensor of `graph` (not its subgraphs) to float16. Refuses a graph
/// that casts to float32 inside, since its types would no longer agree.
pub fn graph_to_f16(graph: &mut GraphProto) -> Result<(), BuildError> {
    for t in graph.initializer.iter_mut() {
        tensor_to_f16(t);
    }
    for n in graph.node.iter_mut() {
        let casts_to_f32 = n.op_type == "Cast"
            && n.attribute
                .iter()
                .any(|a| a.name == "to" && a.i == F32 as i64);
        if casts_to_f32
            || n.attribute
                .iter()
                .any(|a| a.g.is_some() || !a.graphs.is_empty())
        {
            return Err(BuildError::Graph(format!(
                "node `{}` ({}) cannot be converted to float16 automatically; export f32 or int8",
                n.name, n.op_type
            )));
        }
        for a in n.attribute.iter_mut() {
            if let Some(t) = a.t.as_mut() {
                tensor_to_f16(t);
            }
        }
    }
    for v in graph.value_info.iter_mut() {
        if let Some(t) = v.type_.as_mut().and_then(|ty| match ty.value.as_mut() {
            Some(onnx_protobuf::type_proto::Value::TensorType(t)) => Some(t),
            _ => None,
        }) {
            if t.elem_type == F32 {
                t.elem_type = F16;
            }
        }
    }
    Ok(())
}
