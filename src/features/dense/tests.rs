use super::*;
use crate::backbone::sidecar::Layout;
use crate::features::views::ViewSet;

fn cfg(layout: Layout) -> PreprocessConfig {
    PreprocessConfig {
        resize_shorter: 24,
        crop: 16,
        layout,
        ..Default::default()
    }
}

fn grid(w: u32, h: u32) -> MapGrid {
    // A stride-4 backbone: 16-pixel crops cover 4 cells.
    MapGrid {
        crop: 16,
        k: 4,
        w,
        h,
        mw: w as usize / 4,
        mh: h as usize / 4,
    }
}

#[test]
fn windows_sit_at_the_crops_cells_on_a_landscape_image() {
    // 32×24 input, 8×6 cells: crops start at x ∈ {0, 8, 16}, y ∈ {0, 4, 8}.
    let g = grid(32, 24);
    assert_eq!(g.window(Pos::TopLeft, false), (0, 0, 4, 4));
    assert_eq!(g.window(Pos::TopRight, false), (4, 0, 4, 4));
    assert_eq!(g.window(Pos::BottomLeft, false), (0, 2, 4, 4));
    assert_eq!(g.window(Pos::BottomRight, false), (4, 2, 4, 4));
    assert_eq!(g.window(Pos::Centre, false), (2, 1, 4, 4));
    // On the mirror's map the top-left crop's mirror is the top-right window, and so on.
    assert_eq!(g.window(Pos::TopLeft, true), (4, 0, 4, 4));
    assert_eq!(g.window(Pos::BottomRight, true), (0, 2, 4, 4));
    assert_eq!(g.window(Pos::Centre, true), (2, 1, 4, 4));
}

#[test]
fn windows_round_to_the_nearest_cell_and_stay_inside_the_map() {
    // 30×24 input: right crops start at pixel 14 → cell 3.5 → 4 (ties to even), clamped to
    // mw − k = 7 − 4 = 3; the centre starts at 7 → 1.75 → cell 2.
    let g = MapGrid {
        mw: 7,
        ..grid(30, 24)
    };
    assert_eq!(g.window(Pos::TopRight, false), (3, 0, 4, 4));
    assert_eq!(g.window(Pos::Centre, false), (2, 1, 4, 4));
    // A map smaller than a crop's window is used whole.
    let tiny = MapGrid {
        mw: 3,
        mh: 3,
        ..grid(16, 16)
    };
    assert_eq!(tiny.window(Pos::BottomRight, false), (0, 0, 3, 3));
}

#[test]
fn pool_is_the_window_mean_per_channel_and_global_is_the_map_mean() {
    let g = MapGrid {
        mw: 3,
        mh: 2,
        ..grid(12, 8)
    };
    // Two channels: c0 = cell index, c1 = 10 × cell index.
    let map: Vec<f32> = (0..6)
        .map(|i| i as f32)
        .chain((0..6).map(|i| 10.0 * i as f32))
        .collect();
    let mut out = [0f32; 2];
    pool(&map, &g, (1, 0, 2, 2), &mut out);
    assert_eq!(out, [(1.0 + 2.0 + 4.0 + 5.0) / 4.0, 30.0]);
    let v = View {
        geometry: Geometry::DenseGlobal,
        flip: true,
    };
    let r = rows(&[0.0; 12], Some(&map), &g, 2, &[v]).unwrap();
    assert_eq!(r, [2.5, 25.0]);
    assert!(rows(&[0.0; 12], None, &g, 2, &[v]).is_err());
}

#[test]
fn dense_input_is_the_resized_image_and_its_mirror_in_both_layouts() {
    let img = RgbImage::from_fn(36, 24, |x, y| image::Rgb([x as u8 * 7, y as u8 * 9, 100]));
    for layout in [Layout::Nchw, Layout::Nhwc] {
        let c = cfg(layout);
        let d = dense_input(&img, &c, true).unwrap();
        assert_eq!((d.w, d.h, d.planes()), (36, 24, 2));
        let plane = 3 * 36 * 24;
        assert_eq!(d.data.len(), 2 * plane);
        let single = dense_input(&img, &c, false).unwrap();
        assert_eq!(single.planes(), 1);
        assert_eq!(single.data[..], d.data[..plane]);
        let at = |img: usize, ch: usize, y: usize, x: usize| match layout {
            Layout::Nchw => d.data[img * plane + (ch * 24 + y) * 36 + x],
            Layout::Nhwc => d.data[img * plane + 3 * (y * 36 + x) + ch],
        };
        for (y, x) in [(0, 0), (5, 7), (23, 35)] {
            for ch in 0..3 {
                assert_eq!(at(0, ch, y, x), at(1, ch, y, 35 - x), "{layout:?}");
            }
        }
        // The centre crop of the eval transform is the centre window of the dense input.
        let mut crop = vec![0f32; c.tensor_len()];
        crate::preprocess::eval_into(&img, &c, &mut crop).unwrap();
        let (x0, y0) = (10, 4);
        for y in 0..16 {
            for x in 0..16 {
                for ch in 0..3 {
                    let want = match layout {
                        Layout::Nchw => crop[(ch * 16 + y) * 16 + x],
                        Layout::Nhwc => crop[3 * (y * 16 + x) + ch],
                    };
                    assert_eq!(at(0, ch, y0 + y, x0 + x), want);
                }
            }
        }
    }
}

#[test]
fn very_elongated_images_keep_their_centre_part() {
    let img = RgbImage::from_pixel(300, 10, image::Rgb([1, 2, 3]));
    let d = dense_input(&img, &cfg(Layout::Nchw), true).unwrap();
    assert_eq!((d.w, d.h), (24 * MAX_ASPECT, 24));
}

#[test]
fn the_dense_set_has_twelve_named_views_that_parse_back() {
    let names = ViewSet::Dense.names();
    assert_eq!(names.len(), 12);
    assert_eq!(&names[..2], ["dense-centre", "dense-centre-flip"]);
    assert_eq!(&names[10..], ["dense-global", "dense-global-flip"]);
    for n in &names {
        let v = View::parse(n).unwrap();
        assert!(v.is_dense());
        assert_eq!(&v.name(), n);
    }
}
