//! Unit tests of the eval transform.

use super::*;

#[test]
fn resized_size_matches_torchvision_rounding() {
    assert_eq!(resized_size(500, 375, 256).unwrap(), (341, 256));
    assert_eq!(resized_size(180, 260, 256).unwrap(), (256, 369));
    assert_eq!(resized_size(256, 256, 256).unwrap(), (256, 256));
    assert_eq!(resized_size(1, 500, 256).unwrap(), (256, 128000));
    assert!(matches!(
        resized_size(0, 5, 256),
        Err(PreprocessError::EmptyImage { .. })
    ));
    assert!(matches!(
        resized_size(1, u32::MAX, 256),
        Err(PreprocessError::TooElongated { .. })
    ));
}

#[test]
fn center_window_rounds_half_to_even_and_pads() {
    // (341 - 224) / 2 = 58.5 → 58; (343 - 224) / 2 = 59.5 → 60.
    assert_eq!(Window::center(341, 224).src_start, 58);
    assert_eq!(Window::center(343, 224).src_start, 60);
    let w = Window::center(101, 224);
    assert_eq!((w.dst_off, w.src_start, w.len), (61, 0, 101));
}

#[test]
fn config_validation_names_the_problem() {
    let mut cfg = PreprocessConfig::default();
    cfg.validate().unwrap();
    cfg.normalization.std[1] = 0.0;
    let e = cfg.validate().unwrap_err().to_string();
    assert!(e.contains("non-zero std"), "{e}");
    let cfg = PreprocessConfig {
        resize_filter: "nearest".into(),
        ..Default::default()
    };
    assert!(cfg
        .validate()
        .unwrap_err()
        .to_string()
        .contains("re-extract"));
    let mut out = vec![0f32; 10];
    let e = eval_into(&RgbImage::new(4, 4), &PreprocessConfig::default(), &mut out);
    assert!(matches!(
        e,
        Err(PreprocessError::OutputLength {
            expected: 150528,
            got: 10
        })
    ));
}

#[test]
fn constant_image_gives_constant_normalised_planes() {
    let img = RgbImage::from_pixel(300, 200, image::Rgb([255, 128, 0]));
    let cfg = PreprocessConfig::default();
    let mut out = vec![0f32; cfg.tensor_len()];
    eval_into(&img, &cfg, &mut out).unwrap();
    let n = Normalization::imagenet();
    let plane = 224 * 224;
    for (c, x) in [255f32, 128.0, 0.0].into_iter().enumerate() {
        let want = (x / 255.0 - n.mean[c]) / n.std[c];
        let got = &out[c * plane..(c + 1) * plane];
        assert!(got.iter().all(|v| (v - want).abs() < 1e-5), "channel {c}");
    }
}

/// Features must be bit-identical on any machine: fast_image_resize's SIMD paths must give
/// the same bytes as its portable one for the crops and sizes we use.
#[test]
fn resize_is_identical_across_cpu_extensions() {
    use fast_image_resize::images::CroppedImage;
    use fast_image_resize::CpuExtensions;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let raw: Vec<u8> = (0..500 * 375 * 3).map(|_| rng.gen()).collect();
    let src = ImageRef::new(500, 375, &raw, PixelType::U8x3).unwrap();
    let crop = CroppedImage::new(&src, 37, 20, 410, 300).unwrap();
    let eval_box = resize_options().crop(85.04, 0.0, 328.4, 328.1);
    let run = |ext: CpuExtensions| {
        let mut r = Resizer::new();
        // SAFETY: only extensions this CPU supports are passed.
        unsafe { r.set_cpu_extensions(ext) };
        let mut a = Image::new(224, 224, PixelType::U8x3);
        r.resize(&src, &mut a, &eval_box).unwrap();
        let mut b = Image::new(256, 256, PixelType::U8x3);
        r.resize(&crop, &mut b, &resize_options()).unwrap();
        (a.into_vec(), b.into_vec())
    };
    let portable = run(CpuExtensions::None);
    #[cfg(target_arch = "x86_64")]
    for ext in [CpuExtensions::Sse4_1, CpuExtensions::Avx2] {
        if ext.is_supported() {
            assert!(
                run(ext) == portable,
                "{ext:?} differs from the portable resize"
            );
        }
    }
}
