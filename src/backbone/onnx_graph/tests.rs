//! Tests of the ONNX summary on the committed tiny fixture and on damaged files.

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/backbone")
        .join(name)
}

#[test]
fn tiny_fixture_summary() {
    let s = read(&fixture("tiny.onnx")).unwrap();
    assert_eq!(s.ir_version, 8);
    assert_eq!(s.opset(), Some(17));
    assert_eq!(s.producer_name, "make_tiny.py");
    assert_eq!(s.inputs.len(), 1);
    assert_eq!(format_dims(&s.inputs[0].dims), "[batch, 3, 32, 32]");
    assert_eq!(s.inputs[0].elem_type, "float32");
    assert_eq!(format_dims(&s.outputs[0].dims), "[batch, 16]");
    // Conv 4x3x3x3 weight + 4 bias.
    assert_eq!(s.parameter_count, 4 * 3 * 3 * 3 + 4);
    assert_eq!(s.layers.len(), 1);
    assert_eq!(s.layers[0].op_type, "Conv");
    assert_eq!(s.layers[0].weights[0].dims, vec![4, 3, 3, 3]);
    assert_eq!(s.other_ops.get("Relu"), Some(&1));
    assert_eq!(s.static_feature_width(None), Some(16));
    assert_eq!(s.static_feature_width(Some("nope")), None);
}

#[test]
fn truncated_file_is_reported_as_truncated() {
    let bytes = std::fs::read(fixture("tiny.onnx")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.onnx");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let err = read(&p).unwrap_err();
    assert!(matches!(err, OnnxGraphError::Truncated { .. }), "{err}");
}

#[test]
fn text_and_empty_files_are_not_onnx() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.onnx");
    std::fs::write(&p, "hello, I am a text file\n").unwrap();
    let err = read(&p).unwrap_err();
    assert!(matches!(err, OnnxGraphError::NotOnnx { .. }), "{err}");
    std::fs::write(&p, "").unwrap();
    assert!(matches!(read(&p), Err(OnnxGraphError::Empty { .. })));
    let missing = dir.path().join("missing.onnx");
    assert!(matches!(
        read(&missing),
        Err(OnnxGraphError::Missing { .. })
    ));
}

#[test]
fn feature_width_multiplies_fixed_dims_only() {
    let mut s = read(&fixture("tiny.onnx")).unwrap();
    s.outputs[0].dims = vec![
        Dim::Symbolic("batch".into()),
        Dim::Fixed(512),
        Dim::Fixed(7),
        Dim::Fixed(7),
    ];
    assert_eq!(s.static_feature_width(None), Some(512 * 49));
    s.outputs[0].dims[2] = Dim::Symbolic("h".into());
    assert_eq!(s.static_feature_width(None), None);
}
