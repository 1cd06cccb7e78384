//! Tests of `plot`: every chart kind renders to PNG and SVG, with and without a font.
//! Set `PIPELINE_PLOT_TEST_OUT=DIR` to keep the charts for looking at them.

use super::*;

fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("PIPELINE_PLOT_TEST_OUT") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            (None, PathBuf::from(d))
        }
        None => {
            let t = tempfile::tempdir().unwrap();
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    }
}

/// Fraction of non-white pixels of a PNG, and its size.
fn ink(path: &Path) -> (f64, (u32, u32)) {
    let img = image::open(path).unwrap().to_rgb8();
    let dark = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    (dark as f64 / img.pixels().len() as f64, img.dimensions())
}

fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("class_{i:03}_name")).collect()
}

#[test]
fn every_chart_kind_renders_to_png_and_svg() {
    let (_keep, dir) = out_dir();
    let labels = names(40);
    let train: Vec<f64> = (0..40).map(|i| (80 - 2 * i) as f64).collect();
    let valid: Vec<f64> = train.iter().map(|v| (v / 2.0).floor()).collect();
    let series = vec![("train".to_string(), train), ("valid".to_string(), valid)];
    let pts: Vec<(f64, f64)> = (0..500)
        .map(|i| (100.0 + (i * 37 % 400) as f64, 80.0 + (i * 53 % 300) as f64))
        .collect();
    let values: Vec<f64> = pts.iter().map(|(w, h)| w / h).collect();
    let curve = |k: f64| {
        (1..=20)
            .map(|e| (e as f64, k / e as f64))
            .collect::<Vec<_>>()
    };
    let lines = vec![
        ("train".to_string(), curve(2.0)),
        ("valid".to_string(), curve(3.0)),
    ];
    let m: Vec<Vec<f64>> = (0..100)
        .map(|r| {
            (0..100)
                .map(|c| {
                    if r == c {
                        20.0
                    } else {
                        ((r * c) % 7 / 6) as f64
                    }
                })
                .collect()
        })
        .collect();
    for ext in ["png", "svg"] {
        let p = |n: &str| dir.join(format!("{n}.{ext}"));
        bar_chart(&p("bars"), "Images per class", &labels, &series, "images").unwrap();
        scatter(
            &p("scatter"),
            "Image sizes",
            &pts,
            "width (px)",
            "height (px)",
        )
        .unwrap();
        histogram(&p("hist"), "Aspect ratio", &values, 30, "width / height").unwrap();
        line_chart(&p("lines"), "Loss", "epoch", "NLL", &lines).unwrap();
        heatmap_with_axes(
            &p("heat100"),
            "Confusion (100 classes)",
            &m,
            &names(100),
            "true",
            "predicted",
        )
        .unwrap();
        let small: Vec<Vec<f64>> = m[..5].iter().map(|r| r[..5].to_vec()).collect();
        heatmap(&p("heat5"), "Confusion", &small, &names(5)).unwrap();
    }
    for n in ["bars", "scatter", "hist", "lines", "heat100", "heat5"] {
        let (frac, _) = ink(&dir.join(format!("{n}.png")));
        assert!(frac > 0.01, "{n}.png is nearly blank ({frac})");
        let svg = std::fs::read_to_string(dir.join(format!("{n}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.len() > 1000, "{n}.svg");
    }
    let (_, (w, h)) = ink(&dir.join("heat100.png"));
    assert!(
        w >= 1100 && h >= 1100,
        "100-class heatmap too small: {w}x{h}"
    );
}

#[test]
fn charts_draw_without_text_when_no_font_is_used() {
    let (w, h) = (400u32, 300u32);
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let series = vec![("a".to_string(), vec![3.0, 1.0])];
        draw_bars(&root, false, "t", &["x".into(), "y".into()], &series, "n").unwrap();
        root.present().unwrap();
    }
    let blue = buf.chunks(3).filter(|p| p == &[31, 119, 180]).count();
    assert!(blue > 1000, "bars not drawn: {blue} blue pixels");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.png");
    let bad = vec![("s".to_string(), vec![1.0])];
    assert!(matches!(
        bar_chart(&p, "t", &names(2), &bad, "n"),
        Err(PlotError::Input { .. })
    ));
    assert!(matches!(
        heatmap(&p, "t", &[vec![1.0]], &names(2)),
        Err(PlotError::Input { .. })
    ));
    assert!(matches!(
        histogram(&p, "t", &[1.0], 0, "x"),
        Err(PlotError::Input { .. })
    ));
    histogram(&p, "empty", &[], 10, "x").unwrap();
    scatter(&p, "nan", &[(f64::NAN, 1.0)], "x", "y").unwrap();
    bar_chart(&p, "none", &[], &[], "n").unwrap();
    let missing = dir.path().join("no/such/dir/x.png");
    assert!(matches!(
        scatter(&missing, "t", &[], "x", "y"),
        Err(PlotError::Draw { .. })
    ));
}
