//! Backbone tests on the committed tiny fixtures (need ONNX Runtime in .ort/cpu or ORT_DYLIB_PATH).

use super::*;
use crate::backbone::sidecar::Normalization;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/backbone")
        .join(name)
}

fn args(model: PathBuf) -> BackboneOptions {
    BackboneOptions {
        model,
        device: Device::Cpu,
        threads: Some(1),
        ort_lib: None,
    }
}

/// The fixture input of `tiny_expected.json`: NCHW, flat index i → ((i·7919) mod 1000)/1000 − 0.5.
fn nchw_input(n: usize) -> Vec<f32> {
    (0..n * 3 * 32 * 32)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect()
}

/// NCHW RGB → NHWC BGR.
fn to_nhwc_bgr(x: &[f32], n: usize) -> Vec<f32> {
    let s = 32;
    let mut out = vec![0f32; x.len()];
    for b in 0..n {
        for c in 0..3 {
            for y in 0..s {
                for xx in 0..s {
                    let src = ((b * 3 + c) * s + y) * s + xx;
                    let dst = ((b * s + y) * s + xx) * 3 + (2 - c);
                    out[dst] = x[src];
                }
            }
        }
    }
    out
}

fn expected() -> Vec<f32> {
    let text = std::fs::read_to_string(fixture("tiny_expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn assert_close(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() < 1e-5, "feature {i}: got {g}, want {w}");
    }
}

#[test]
fn tiny_nchw_matches_numpy_reference() {
    let mut b = Backbone::open(args(fixture("tiny.onnx"))).unwrap();
    assert_eq!(b.provider, "cpu");
    assert!(!b.sidecar_synthesized);
    assert_eq!(b.input_len(), 3 * 32 * 32);
    assert_eq!(b.feature_dim(), 16);
    assert_eq!(b.input_dims, vec![-1, 3, 32, 32]);
    assert_eq!(b.model_hash.len(), 64);
    let out = b.run(&nchw_input(2), 2).unwrap();
    assert_close(&out, &expected());
}

#[test]
fn tiny_nhwc_bgr_gives_the_same_features() {
    let mut b = Backbone::open(args(fixture("tiny_nhwc.onnx"))).unwrap();
    assert_eq!(b.sidecar.layout, Layout::Nhwc);
    assert_eq!(b.input_shape(2), [2, 32, 32, 3]);
    let out = b.run(&to_nhwc_bgr(&nchw_input(2), 2), 2).unwrap();
    assert_close(&out, &expected());
}

#[test]
fn batch_of_one_equals_row_of_batch_of_two() {
    let mut b = Backbone::open(args(fixture("tiny.onnx"))).unwrap();
    let x = nchw_input(2);
    let one = b.run(&x[..b.input_len()], 1).unwrap();
    assert_close(&one, &expected()[..16]);
    assert!(b.run(&[], 0).unwrap().is_empty());
}

#[test]
fn wrong_input_length_is_an_error() {
    let mut b = Backbone::open(args(fixture("tiny.onnx"))).unwrap();
    let err = b.run(&[0.0; 10], 1).unwrap_err();
    assert!(
        err.to_string().contains("expected 1 images × 3072"),
        "{err}"
    );
}

#[test]
fn missing_sidecar_is_synthesised_from_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["tiny.onnx", "tiny_nhwc.onnx"] {
        let p = dir.path().join(name);
        std::fs::copy(fixture(name), &p).unwrap();
        let b = Backbone::open(args(p)).unwrap();
        assert!(b.sidecar_synthesized);
        assert_eq!(b.sidecar.input_size, 32);
        assert_eq!(b.feature_dim(), 16);
        let want = if name == "tiny.onnx" {
            Layout::Nchw
        } else {
            Layout::Nhwc
        };
        assert_eq!(b.sidecar.layout, want);
        assert_eq!(b.sidecar.normalization, Normalization::imagenet());
    }
}

#[test]
fn sidecar_that_disagrees_with_the_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.onnx");
    std::fs::copy(fixture("tiny.onnx"), &model).unwrap();
    let mut sc = Sidecar::load(&fixture("tiny.json")).unwrap();
    let write = |sc: &Sidecar| {
        std::fs::write(
            dir.path().join("tiny.json"),
            serde_json::to_string(sc).unwrap(),
        )
        .unwrap()
    };
    sc.feature_dim = 99;
    write(&sc);
    let err = Backbone::open(args(model.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("feature_dim is 99, the model outputs 16"),
        "{err}"
    );
    sc.feature_dim = 16;
    sc.input_size = 224;
    sc.resize_shorter = 256;
    write(&sc);
    let err = Backbone::open(args(model.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("model input is 32×32, sidecar input_size is 224"),
        "{err}"
    );
    sc.input_size = 32;
    sc.resize_shorter = 36;
    sc.layout = Layout::Nhwc;
    write(&sc);
    let err = Backbone::open(args(model.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("expects 3 channels there"), "{err}");
    sc.layout = Layout::Nchw;
    sc.normalization.std[1] = 0.0;
    write(&sc);
    let err = Backbone::open(args(model.clone()))
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("non-zero std"), "{err}");
    sc.normalization.std[1] = 0.224;
    sc.resize_shorter = 16;
    write(&sc);
    let err = Backbone::open(args(model)).err().unwrap().to_string();
    assert!(err.contains("resize_shorter 16"), "{err}");
}

#[test]
fn cuda_on_a_cpu_build_names_the_fix_and_auto_falls_back() {
    let ort = crate::backbone::ort_lib::init(None).unwrap();
    if ort
        .providers()
        .unwrap()
        .iter()
        .any(|p| p == "CUDAExecutionProvider")
    {
        eprintln!("skipped: {} has CUDA support", ort.path.display());
        return;
    }
    let mut a = args(fixture("tiny.onnx"));
    a.device = Device::Cuda;
    let err = Backbone::open(&a).err().unwrap().to_string();
    assert!(err.contains("fetch_ort.sh --gpu"), "{err}");
    assert!(err.contains("libonnxruntime_providers_cuda"), "{err}");
    a.device = Device::Auto;
    let b = Backbone::open(&a).unwrap();
    assert_eq!(b.provider, "cpu");
}

#[test]
fn zero_threads_is_refused() {
    let mut a = args(fixture("tiny.onnx"));
    a.threads = Some(0);
    assert!(matches!(Backbone::open(&a), Err(BackboneError::Threads)));
}

/// A valid ONNX file whose graph is `y = Relu(x)` with `x: float32 [batch, 10]`.
fn vector_model(path: &Path) {
    use onnx_protobuf::tensor_shape_proto::{dimension::Value as D, Dimension};
    use onnx_protobuf::type_proto::{Tensor, Value as T};
    use onnx_protobuf::{Message, ModelProto, NodeProto, OperatorSetIdProto};
    use onnx_protobuf::{TensorShapeProto, TypeProto, ValueInfoProto};
    let value = |name: &str| {
        let dims = [D::DimParam("batch".into()), D::DimValue(10)];
        let mut shape = TensorShapeProto::new();
        shape.dim = dims
            .into_iter()
            .map(|v| {
                let mut d = Dimension::new();
                d.value = Some(v);
                d
            })
            .collect();
        let mut tensor = Tensor::new();
        tensor.elem_type = 1;
        tensor.shape = Some(shape).into();
        let mut ty = TypeProto::new();
        ty.value = Some(T::TensorType(tensor));
        let mut v = ValueInfoProto::new();
        v.name = name.into();
        v.type_ = Some(ty).into();
        v
    };
    let mut node = NodeProto::new();
    node.op_type = "Relu".into();
    node.input = vec!["x".into()];
    node.output = vec!["y".into()];
    let mut model = ModelProto::new();
    model.ir_version = 8;
    let mut opset = OperatorSetIdProto::new();
    opset.version = 17;
    model.opset_import = vec![opset];
    let graph = model.graph.mut_or_insert_default();
    graph.node = vec![node];
    graph.input = vec![value("x")];
    graph.output = vec![value("y")];
    std::fs::write(path, model.write_to_bytes().unwrap()).unwrap();
}

#[test]
fn model_without_an_image_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vector.onnx");
    vector_model(&path);
    let err = Backbone::open(args(path)).err().unwrap();
    assert!(matches!(err, BackboneError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("expected rank 4"), "{err}");
}

#[test]
fn backbone_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Backbone>();
}

/// Dense windows of the stride-4, unpadded `tiny_gap` backbone equal the crops' own features:
/// every crop offset of a 24×32 input (x ∈ {0, 8, 16}, y ∈ {0, 4, 8}) is a multiple of 4.
#[test]
fn dense_windows_equal_the_crops_features_on_an_unpadded_backbone() {
    use crate::features::dense::{dense_input, rows, MapGrid};
    use crate::features::views::{view_into, ViewSet};
    use crate::preprocess::PreprocessConfig;
    let mut b = Backbone::open(args(fixture("tiny_gap.onnx"))).unwrap();
    assert_eq!(b.enable_dense().unwrap(), 4);
    let pre = PreprocessConfig::from_sidecar(&b.sidecar);
    // 48×64 → resized 24×32 (shorter side 24).
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 3 + y) as u8, (y * 5) as u8, ((x * y) % 251) as u8])
    });
    let input = dense_input(&img, &pre, true).unwrap();
    assert_eq!((input.w, input.h), (32, 24));
    let maps = b.run_maps(&input.data, 2, 24, 32).unwrap();
    assert_eq!((maps.c, maps.mh, maps.mw), (8, 6, 8));
    let grid = MapGrid {
        crop: 16,
        k: 4,
        w: 32,
        h: 24,
        mw: 8,
        mh: 6,
    };
    let views = ViewSet::Dense.views();
    let dense = rows(maps.image(0), Some(maps.image(1)), &grid, 8, &views).unwrap();
    let exact_views = ViewSet::TenCrop.views();
    let mut crops = vec![0f32; exact_views.len() * pre.tensor_len()];
    for (v, out) in exact_views
        .iter()
        .zip(crops.chunks_exact_mut(pre.tensor_len()))
    {
        view_into(&img, &pre, *v, out).unwrap();
    }
    let exact = b.run(&crops, exact_views.len()).unwrap();
    // Same row order: the five positions with their flips.
    for (i, (d, e)) in dense[..80].chunks(8).zip(exact.chunks(8)).enumerate() {
        for (x, y) in d.iter().zip(e) {
            assert!(
                (x - y).abs() <= 1e-5 * y.abs().max(1.0),
                "view {}: {d:?} vs {e:?}",
                views[i].name()
            );
        }
    }
    // The global rows are the mean of the whole map, which the plain model's features give
    // for the whole input.
    let whole = b.run_maps(&input.data[..3 * 24 * 32], 1, 24, 32).unwrap();
    let mean: Vec<f32> = (0..8)
        .map(|c| whole.image(0)[c * 48..(c + 1) * 48].iter().sum::<f32>() / 48.0)
        .collect();
    for (x, y) in dense[80..88].iter().zip(&mean) {
        assert!((x - y).abs() <= 1e-5);
    }
    // Without the mirror pass, the unflipped views are the same rows, and a flipped one is
    // refused rather than pooled from a map that was not computed.
    let single = dense_input(&img, &pre, false).unwrap();
    assert_eq!(single.data[..], input.data[..3 * 24 * 32]);
    let plain_views: Vec<_> = views.iter().filter(|v| !v.flip).copied().collect();
    let got = rows(whole.image(0), None, &grid, 8, &plain_views).unwrap();
    for (i, v) in plain_views.iter().enumerate() {
        let at = views.iter().position(|w| w == v).unwrap();
        assert_eq!(
            got[i * 8..(i + 1) * 8],
            dense[at * 8..(at + 1) * 8],
            "{}",
            v.name()
        );
    }
    assert!(rows(whole.image(0), None, &grid, 8, &views).is_err());
}

#[test]
fn rejects_dense_views_on_a_backbone_without_a_global_pool() {
    let mut b = Backbone::open(args(fixture("tiny.onnx"))).unwrap();
    let err = b.enable_dense().unwrap_err().to_string();
    assert!(err.contains("global average pool"), "{err}");
    assert!(err.contains("AveragePool"), "{err}");
}
