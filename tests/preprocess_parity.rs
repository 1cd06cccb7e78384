//! Preprocessing and augmentation against torchvision/PIL reference tensors
//! (`tests/fixtures/preprocess/`, made by `scripts/make_preprocess_reference.py`), plus layout,
//! tiny-image, determinism, geometry and sampling-distribution checks.

use image::RgbImage;
use pipeline::backbone::sidecar::{ChannelOrder, Layout, Normalization};
use pipeline::preprocess::augment::{
    apply_into, sample_params, train_into, view_seed, AugmentConfig, AugmentParams, CropBox,
};
use pipeline::preprocess::{eval_into, PreprocessConfig};
use std::path::{Path, PathBuf};

/// Parity tolerance in 0–1 pixel units: ≥ 99.9 % of values within `CLOSE`, all within `MAX`.
const CLOSE: f32 = 1.0 / 255.0 + 1e-6;
const MAX: f32 = 2.0 / 255.0 + 1e-6;
const MIN_CLOSE_FRACTION: f64 = 0.999;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/preprocess")
}

/// Decodes an image to RGB8 (ImageFolder's `convert("RGB")`); to be swapped for the project loader.
fn load_rgb(path: &Path) -> RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("cannot decode {}: {e}", path.display()))
        .to_rgb8()
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The 0–1 CHW tensor stored losslessly in a reference PNG.
fn reference_tensor(name: &str) -> Vec<f32> {
    let img = load_rgb(&fixtures().join(name));
    let (w, h) = img.dimensions();
    let plane = (w * h) as usize;
    let mut t = vec![0f32; 3 * plane];
    for (i, px) in img.pixels().enumerate() {
        for c in 0..3 {
            t[c * plane + i] = px.0[c] as f32 / 255.0;
        }
    }
    t
}

/// Asserts the parity tolerance; returns (max diff, fraction within `CLOSE`).
fn assert_parity(what: &str, got: &[f32], want: &[f32]) -> (f32, f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let diffs = got.iter().zip(want).map(|(a, b)| (a - b).abs());
    let (mut max, mut close, mut exact) = (0f32, 0usize, 0usize);
    for d in diffs {
        max = max.max(d);
        close += (d <= CLOSE) as usize;
        exact += (d < 1e-6) as usize;
    }
    let frac = close as f64 / got.len() as f64;
    let exact = 100.0 * exact as f64 / got.len() as f64;
    println!(
        "{what}: max diff {:.3}/255, {:.4} % within 1/255, {exact:.2} % identical",
        max * 255.0,
        100.0 * frac
    );
    assert!(max <= MAX, "{what}: max diff {}/255 > 2/255", max * 255.0);
    assert!(
        frac >= MIN_CLOSE_FRACTION,
        "{what}: only {frac} within 1/255"
    );
    (max, frac)
}

fn unit_cfg() -> PreprocessConfig {
    PreprocessConfig::default().unit_range()
}

fn run_eval(img: &RgbImage, cfg: &PreprocessConfig) -> Vec<f32> {
    let mut out = vec![0f32; cfg.tensor_len()];
    eval_into(img, cfg, &mut out).unwrap();
    out
}

fn run_apply(img: &RgbImage, cfg: &PreprocessConfig, p: &AugmentParams) -> Vec<f32> {
    let mut out = vec![0f32; cfg.tensor_len()];
    apply_into(img, cfg, 256, p, &mut out).unwrap();
    out
}

#[test]
fn eval_matches_torchvision() {
    let cases = reference();
    let cases = cases["eval"].as_array().unwrap();
    assert!(cases.len() >= 5);
    for case in cases {
        let img = load_rgb(&fixtures().join(case["input"].as_str().unwrap()));
        let want = reference_tensor(case["reference"].as_str().unwrap());
        assert_parity(
            case["input"].as_str().unwrap(),
            &run_eval(&img, &unit_cfg()),
            &want,
        );
    }
}

#[test]
fn augment_geometry_matches_torchvision() {
    let cases = reference();
    let cases = cases["geometry"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for case in cases {
        let img = load_rgb(&fixtures().join(case["input"].as_str().unwrap()));
        let n = |k: &str| case[k].as_u64().unwrap() as u32;
        let crop = CropBox {
            top: n("top"),
            left: n("left"),
            height: n("height"),
            width: n("width"),
        };
        let params = AugmentParams {
            crop,
            angle_deg: case["angle_deg"].as_f64().unwrap(),
            hflip: case["hflip"].as_bool().unwrap(),
        };
        let want = reference_tensor(case["reference"].as_str().unwrap());
        let what = format!("{} {params:?}", case["input"].as_str().unwrap());
        assert_parity(&what, &run_apply(&img, &unit_cfg(), &params), &want);
    }
}

#[test]
fn nhwc_bgr_caffe_is_the_permuted_nchw_rgb_tensor() {
    let img = load_rgb(&fixtures().join("in_cat_300x200.png"));
    let mean = [103.939, 116.779, 123.68];
    let caffe = PreprocessConfig {
        layout: Layout::Nhwc,
        channel_order: ChannelOrder::Bgr,
        normalization: Normalization {
            scale: 1.0,
            mean,
            std: [1.0; 3],
        },
        ..PreprocessConfig::default()
    };
    let got = run_eval(&img, &caffe);
    let unit = run_eval(&img, &unit_cfg());
    let plane = 224 * 224;
    for i in 0..plane {
        for c in 0..3 {
            let want = unit[(2 - c) * plane + i] * 255.0 - mean[c];
            let v = got[3 * i + c];
            assert!(
                (v - want).abs() < 1e-3,
                "pixel {i} channel {c}: {v} vs {want}"
            );
        }
    }
}

#[test]
fn tiny_images_give_finite_tensors() {
    let cfg = PreprocessConfig::default();
    for (w, h) in [(1, 1), (1, 500), (500, 1), (2, 3)] {
        let img = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 7 % 256) as u8, (y % 256) as u8, 99])
        });
        let mut out = vec![f32::NAN; cfg.tensor_len()];
        eval_into(&img, &cfg, &mut out).unwrap();
        assert!(out.iter().all(|v| v.is_finite()), "eval {w}×{h}");
        out.fill(f32::NAN);
        train_into(&img, &cfg, &AugmentConfig::default(), 3, &mut out).unwrap();
        assert!(out.iter().all(|v| v.is_finite()), "train {w}×{h}");
    }
    // A 1×1 image upscales to a constant tensor.
    let img = RgbImage::from_pixel(1, 1, image::Rgb([10, 20, 30]));
    let out = run_eval(&img, &unit_cfg());
    for c in 0..3 {
        let want = [10.0, 20.0, 30.0][c] / 255.0;
        assert!(out[c * 50176..(c + 1) * 50176]
            .iter()
            .all(|v| (v - want).abs() < 1e-6));
    }
    let empty = RgbImage::new(0, 5);
    let mut out = vec![0f32; cfg.tensor_len()];
    let e = eval_into(&empty, &cfg, &mut out).unwrap_err().to_string();
    assert!(e.contains("0×5"), "{e}");
}

#[test]
fn train_views_are_deterministic_and_seed_sensitive() {
    let img = load_rgb(&fixtures().join("in_rocket_500x375.png"));
    let (cfg, aug) = (PreprocessConfig::default(), AugmentConfig::default());
    let view = |seed: u64| {
        let mut out = vec![0f32; cfg.tensor_len()];
        train_into(&img, &cfg, &aug, seed, &mut out).unwrap();
        out
    };
    let a = view_seed(0, 0, "rocket/a.png");
    assert_eq!(view(a), view(a), "same seed must give the same bits");
    for other in [
        view_seed(1, 0, "rocket/a.png"),
        view_seed(0, 1, "rocket/a.png"),
        view_seed(0, 0, "rocket/b.png"),
    ] {
        assert_ne!(a, other);
        assert_ne!(view(a), view(other));
    }
}

#[test]
fn identity_augmentation_equals_the_eval_path_on_a_square_image() {
    let img = load_rgb(&fixtures().join("in_rocket_500x375.png"));
    let square = image::imageops::crop_imm(&img, 60, 0, 375, 375).to_image();
    let aug = AugmentConfig {
        scale: (1.0, 1.0),
        ratio: (1.0, 1.0),
        rotation_deg: 0.0,
        hflip_p: 0.0,
        ..Default::default()
    };
    let cfg = unit_cfg();
    let mut train = vec![0f32; cfg.tensor_len()];
    train_into(&square, &cfg, &aug, 42, &mut train).unwrap();
    let eval = run_eval(&square, &cfg);
    let (max, _) = assert_parity("identity augmentation vs eval", &train, &eval);
    assert!(max * 255.0 <= 1.0 + 1e-3);
}

#[test]
fn flip_mirrors_and_90_degrees_rotates_counter_clockwise() {
    let img = RgbImage::from_fn(256, 256, |x, y| {
        image::Rgb([x as u8, y as u8, ((x * 3 + y) % 256) as u8])
    });
    let whole = CropBox {
        top: 0,
        left: 0,
        height: 256,
        width: 256,
    };
    let base = AugmentParams {
        crop: whole,
        angle_deg: 0.0,
        hflip: false,
    };
    let cfg = PreprocessConfig {
        crop: 256,
        ..unit_cfg()
    };
    let to_img = |t: &[f32]| pipeline::preprocess::denormalize_to_rgb8(t, &cfg).unwrap();
    assert_eq!(to_img(&run_apply(&img, &cfg, &base)), img);
    let flipped = run_apply(
        &img,
        &cfg,
        &AugmentParams {
            hflip: true,
            ..base
        },
    );
    assert_eq!(to_img(&flipped), image::imageops::flip_horizontal(&img));
    let rotated = run_apply(
        &img,
        &cfg,
        &AugmentParams {
            angle_deg: 90.0,
            ..base
        },
    );
    assert_eq!(to_img(&rotated), image::imageops::rotate270(&img));
    // 15°: the corners fall outside the source and are black, the centre stays.
    let r15 = to_img(&run_apply(
        &img,
        &cfg,
        &AugmentParams {
            angle_deg: 15.0,
            ..base
        },
    ));
    assert_eq!(r15.get_pixel(0, 0).0, [0, 0, 0]);
    assert_eq!(r15.get_pixel(255, 255).0, [0, 0, 0]);
    assert_eq!(r15.get_pixel(128, 128), img.get_pixel(128, 128));
}

#[test]
fn sampled_views_follow_torchvision_constraints() {
    let aug = AugmentConfig::default();
    let (w, h) = (500u32, 375u32);
    let n = 4000;
    let (mut area_sum, mut log_aspect_sum) = (0f64, 0f64);
    let (mut flips, mut angle_max, mut angle_sum) = (0u32, 0f64, 0f64);
    for s in 0..n {
        let p = sample_params(w, h, &aug, view_seed(7, 0, &format!("img{s}"))).unwrap();
        let b = p.crop;
        assert!(
            b.left + b.width <= w && b.top + b.height <= h,
            "{b:?} outside"
        );
        // Rounding each side by ≤ 0.5 px moves area and aspect by ≤ 0.5/side relatively.
        let slack = 0.5 / b.width as f64 + 0.5 / b.height as f64;
        let frac = (b.width * b.height) as f64 / (w * h) as f64;
        assert!(
            frac >= 0.8 * (1.0 - slack) && frac <= 1.0 + slack,
            "{b:?} area {frac}"
        );
        let aspect = b.width as f64 / b.height as f64;
        assert!(
            aspect >= 0.75 * (1.0 - slack) && aspect <= 4.0 / 3.0 * (1.0 + slack),
            "{b:?}"
        );
        assert!(p.angle_deg.abs() <= 15.0);
        area_sum += frac;
        log_aspect_sum += aspect.ln();
        angle_sum += p.angle_deg;
        angle_max = angle_max.max(p.angle_deg.abs());
        flips += p.hflip as u32;
    }
    let n = n as f64;
    // torchvision's `RandomResizedCrop.get_params` on a 500×375 image, 20,000 draws (torch seed 0):
    // mean area fraction 0.8820 (sd 0.062), mean ln(aspect) 0.2228 (accepted boxes are biased to
    // small and wide ones, as tall or large boxes do not fit). 4,000 draws: standard error ≈ 0.001.
    let mean_area = area_sum / n;
    assert!(
        (mean_area - 0.8820).abs() < 0.006,
        "mean area fraction {mean_area}"
    );
    let mean_log_aspect = log_aspect_sum / n;
    assert!(
        (mean_log_aspect - 0.2228).abs() < 0.006,
        "mean ln aspect {mean_log_aspect}"
    );
    assert!(
        (angle_sum / n).abs() < 0.5 && angle_max > 14.5,
        "angles {angle_sum} {angle_max}"
    );
    assert!(
        (flips as f64 / n - 0.5).abs() < 0.03,
        "flip rate {}",
        flips as f64 / n
    );
}

#[test]
fn fallback_crop_rate_matches_torchvision() {
    // torchvision's `get_params` on a 300×200 image (aspect 1.5 > 4/3) falls back to the centred
    // 267×200 crop in 63.9 % of 20,000 draws (torch seed 0); 3,000 draws: standard error ≈ 0.009.
    let aug = AugmentConfig::default();
    let n = 3000;
    let fallback = CropBox {
        top: 0,
        left: 16,
        height: 200,
        width: 267,
    };
    let hits = (0..n)
        .filter(|s| sample_params(300, 200, &aug, *s).unwrap().crop == fallback)
        .count();
    let rate = hits as f64 / n as f64;
    assert!((rate - 0.639).abs() < 0.035, "fallback rate {rate}");
}

#[test]
fn augment_preview_writes_a_reproducible_grid() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixtures().join("in_coffee_180x260.png");
    let run = |out: &Path, extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pipeline"))
            .arg("augment-preview")
            .arg(&input)
            .args(["--n", "3", "--seed", "5", "--out"])
            .arg(out)
            .args(extra)
            .output()
            .unwrap()
    };
    let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
    let first = run(&a, &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("tile 4: pass 2"));
    assert!(run(&b, &[]).status.success());
    let grid = load_rgb(&a);
    // 4 tiles of 224 → 2×2 with 8 px gaps.
    assert_eq!(grid.dimensions(), (2 * 232 + 8, 2 * 232 + 8));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let missing = run(
        &a,
        &["--model", dir.path().join("nope.onnx").to_str().unwrap()],
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no sidecar"));
}
