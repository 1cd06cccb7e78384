//! A deterministic safetensors writer: the same tensors and metadata always give the same bytes
//! (the `safetensors` crate writes `__metadata__` in hash-map order, which differs run to run), so
//! an incremental extract can be compared byte for byte with a from-scratch one.

use safetensors::tensor::Dtype;
use std::collections::BTreeMap;

/// One tensor to write: name, dtype, shape and its little-endian bytes.
pub struct Tensor<'a> {
    pub name: &'a str,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub bytes: &'a [u8],
}

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::F16 => "F16",
        Dtype::U32 => "U32",
        _ => "F32",
    }
}

/// The file: 8-byte header length, the JSON header (metadata keys sorted, tensors in the given
/// order, padded with spaces to a multiple of 8), then the tensors' bytes in that order.
pub fn serialize(tensors: &[Tensor<'_>], meta: &BTreeMap<String, String>) -> Vec<u8> {
    let mut header = String::from("{\"__metadata__\":");
    header += &serde_json::to_string(meta).unwrap_or_else(|_| "{}".into());
    let mut offset = 0usize;
    for t in tensors {
        let end = offset + t.bytes.len();
        header += &format!(
            ",{}:{{\"dtype\":\"{}\",\"shape\":{},\"data_offsets\":[{offset},{end}]}}",
            serde_json::to_string(t.name).unwrap_or_default(),
            dtype_name(t.dtype),
            serde_json::to_string(&t.shape).unwrap_or_default()
        );
        offset = end;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for t in tensors {
        out.extend_from_slice(t.bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_input_same_bytes_and_safetensors_reads_it() {
        let meta: BTreeMap<String, String> =
            (0..20).map(|i| (format!("k{i}"), i.to_string())).collect();
        let data = [1u8, 0, 0, 0, 2, 0, 0, 0];
        let t = || {
            vec![Tensor {
                name: "index",
                dtype: Dtype::U32,
                shape: vec![2],
                bytes: &data,
            }]
        };
        let a = serialize(&t(), &meta);
        assert_eq!(
            a,
            serialize(&t(), &meta.clone().into_iter().rev().collect())
        );
        let st = safetensors::SafeTensors::deserialize(&a).unwrap();
        assert_eq!(st.tensor("index").unwrap().data(), &data);
        let (_, m) = safetensors::SafeTensors::read_metadata(&a).unwrap();
        assert_eq!(m.metadata().as_ref().unwrap()["k7"], "7");
    }
}
