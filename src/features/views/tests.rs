use super::*;
use crate::preprocess::{denormalize_to_rgb8, eval_into};

fn cfg() -> PreprocessConfig {
    PreprocessConfig {
        resize_shorter: 32,
        crop: 24,
        ..Default::default()
    }
}

fn render(img: &RgbImage, cfg: &PreprocessConfig, view: View) -> RgbImage {
    let mut out = vec![0f32; cfg.tensor_len()];
    view_into(img, cfg, view, &mut out).unwrap();
    denormalize_to_rgb8(&out, cfg).unwrap()
}

#[test]
fn sets_are_prefixes_with_the_documented_sizes() {
    let (c, t, w) = (
        ViewSet::Centre.names(),
        ViewSet::TenCrop.names(),
        ViewSet::TenCropWhole.names(),
    );
    assert_eq!((c.len(), t.len(), w.len()), (2, 10, 12));
    assert_eq!(c, ["centre", "centre-flip"]);
    assert_eq!(&t[..2], &c[..]);
    assert_eq!(&w[..10], &t[..]);
    assert_eq!(&w[10..], ["whole", "whole-flip"]);
    for name in &w {
        assert_eq!(&View::parse(name).unwrap().name(), name);
    }
    assert!(View::parse("middle").is_none());
}

#[test]
fn dense_whole_is_dense_then_the_exact_whole_view_and_its_flip() {
    let (d, dw) = (ViewSet::Dense.names(), ViewSet::DenseWhole.names());
    assert_eq!((d.len(), dw.len()), (12, 14));
    assert_eq!(&dw[..12], &d[..]);
    assert_eq!(&dw[12..], ["whole", "whole-flip"]);
    let views = ViewSet::DenseWhole.views();
    assert_eq!(views.iter().filter(|v| v.is_dense()).count(), 12);
    assert_eq!(
        views[12],
        View {
            geometry: Geometry::Whole,
            flip: false
        }
    );
    for name in &dw {
        assert_eq!(&View::parse(name).unwrap().name(), name);
    }
}

#[test]
fn dense_whole_noflip_is_dense_whole_without_the_whole_flip() {
    let (dw, dn) = (
        ViewSet::DenseWhole.names(),
        ViewSet::DenseWholeNoFlip.names(),
    );
    assert_eq!(dn.len(), 13);
    assert_eq!(&dn[..], &dw[..13]);
    assert_eq!(dn[12], "whole");
    assert_eq!(ViewSet::DenseWholeNoFlip.backbone_passes(), 3);
    assert_eq!(ViewSet::DenseWhole.backbone_passes(), 4);
    assert_eq!(ViewSet::Dense.backbone_passes(), 2);
}

#[test]
fn centre_view_is_the_eval_transform_and_flip_mirrors_it() {
    let img = RgbImage::from_fn(50, 40, |x, y| image::Rgb([x as u8 * 5, y as u8 * 6, 7]));
    for layout in [Layout::Nchw, Layout::Nhwc] {
        let cfg = PreprocessConfig { layout, ..cfg() };
        let mut want = vec![0f32; cfg.tensor_len()];
        eval_into(&img, &cfg, &mut want).unwrap();
        let mut got = vec![0f32; cfg.tensor_len()];
        view_into(&img, &cfg, View::CENTRE, &mut got).unwrap();
        assert_eq!(got, want);
        let plain = render(&img, &cfg, View::CENTRE);
        let flip = View {
            flip: true,
            ..View::CENTRE
        };
        let mirrored = render(&img, &cfg, flip);
        assert_eq!(image::imageops::flip_horizontal(&plain), mirrored);
    }
}

#[test]
fn corner_crops_see_their_corner() {
    // Quadrants: red top-left, green top-right, blue bottom-left, white bottom-right.
    let img = RgbImage::from_fn(64, 64, |x, y| match (x < 32, y < 32) {
        (true, true) => image::Rgb([255, 0, 0]),
        (false, true) => image::Rgb([0, 255, 0]),
        (true, false) => image::Rgb([0, 0, 255]),
        (false, false) => image::Rgb([255, 255, 255]),
    });
    let cfg = cfg();
    let corner = |pos, want: [u8; 3]| {
        let v = View {
            geometry: Geometry::Crop(pos),
            flip: false,
        };
        let out = render(&img, &cfg, v);
        let px = match pos {
            Pos::TopLeft => out.get_pixel(0, 0),
            Pos::TopRight => out.get_pixel(23, 0),
            Pos::BottomLeft => out.get_pixel(0, 23),
            _ => out.get_pixel(23, 23),
        };
        assert_eq!(px.0, want, "{pos:?}");
    };
    corner(Pos::TopLeft, [255, 0, 0]);
    corner(Pos::TopRight, [0, 255, 0]);
    corner(Pos::BottomLeft, [0, 0, 255]);
    corner(Pos::BottomRight, [255, 255, 255]);
}

#[test]
fn whole_view_pads_on_white_and_keeps_everything() {
    // A tall black image: the whole view is black in the middle, white at the sides.
    let img = RgbImage::from_pixel(30, 60, image::Rgb([0, 0, 0]));
    let cfg = cfg();
    let whole = View {
        geometry: Geometry::Whole,
        flip: false,
    };
    let out = render(&img, &cfg, whole);
    assert_eq!(out.get_pixel(0, 12).0, [255, 255, 255]);
    assert_eq!(out.get_pixel(23, 12).0, [255, 255, 255]);
    assert_eq!(out.get_pixel(12, 0).0, [0, 0, 0]);
    assert_eq!(out.get_pixel(12, 23).0, [0, 0, 0]);
    let e = view_into(
        &RgbImage::new(0, 3),
        &cfg,
        whole,
        &mut vec![0f32; cfg.tensor_len()],
    );
    assert!(matches!(e, Err(PreprocessError::EmptyImage { .. })));
}
