//! Tests of `image_io` on the committed fixtures (tests/fixtures/images, made by make_fixtures.py).

use super::*;
use image::{ImageBuffer, ImageEncoder, Rgb, Rgba};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/images")
        .join(rel)
}

fn info(rel: &str) -> ImageInfo {
    probe(&fixture(rel)).unwrap_or_else(|e| panic!("probe {rel}: {e}"))
}

fn load(rel: &str) -> RgbImage {
    load_rgb8(&fixture(rel)).unwrap_or_else(|e| panic!("load {rel}: {e}"))
}

fn png_bytes<P: image::PixelWithColorType>(img: &ImageBuffer<P, Vec<P::Subpixel>>) -> Vec<u8>
where
    [P::Subpixel]: image::EncodableLayout,
{
    use image::EncodableLayout;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw().as_bytes(),
            img.width(),
            img.height(),
            P::COLOR_TYPE,
        )
        .expect("encode png");
    out
}

#[test]
fn probes_formats_colours_and_sizes() {
    let cases = [
        ("tree/train/cat/cat_rgb_0.jpg", "jpeg", 120, 90, "rgb8"),
        ("tree/train/cat/cat_gray.jpg", "jpeg", 64, 48, "l8"),
        ("tree/train/dog/dog_rgba.png", "png", 100, 80, "rgba8"),
        ("tree/train/dog/dog_palette.png", "png", 90, 60, "palette"),
        ("tree/train/dog/dog_rgb16.png", "png", 48, 40, "rgb16"),
        ("tree/train/dog/dog_gray16.png", "png", 40, 30, "l16"),
        ("tree/train/dog/dog_cmyk.jpg", "jpeg", 120, 80, "cmyk"),
        ("tree/train/fish/fish_la.png", "png", 60, 45, "la8"),
        ("tree/train/fish/fish.gif", "gif", 50, 40, "palette"),
        ("tree/train/fish/fish.bmp", "bmp", 32, 24, "rgb8"),
        ("tree/train/fish/fish.tif", "tiff", 40, 30, "rgb8"),
        ("tree/train/fish/fish.webp", "webp", 64, 48, "rgb8"),
    ];
    for (rel, format, w, h, color) in cases {
        let i = info(rel);
        assert_eq!(
            (i.format.as_str(), i.width, i.height, i.color.as_str()),
            (format, w, h, color),
            "{rel}"
        );
        let img = load(rel);
        assert_eq!(img.dimensions(), (w, h), "{rel}");
    }
}

#[test]
fn image_crate_reports_exif_orientation_and_apply_orientation_rotates() {
    let bytes = std::fs::read(fixture("tree/train/cat/cat_exif6.jpg")).unwrap();
    let mut dec = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&bytes)).unwrap();
    assert_eq!(dec.dimensions(), (80, 60));
    assert_eq!(dec.orientation().unwrap(), Orientation::Rotate90);
    let mut img = DynamicImage::from_decoder(dec).unwrap();
    img.apply_orientation(Orientation::Rotate90);
    assert_eq!((img.width(), img.height()), (60, 80));
}

#[test]
fn exif_orientation_6_swaps_sizes_and_moves_the_top_left_corner_to_the_top_right() {
    let i = info("tree/train/cat/cat_exif6.jpg");
    assert_eq!((i.width, i.height, i.orientation), (60, 80, 6));
    let img = load("tree/train/cat/cat_exif6.jpg");
    assert_eq!(img.dimensions(), (60, 80));
    let top_right = img.get_pixel(56, 3);
    let top_left = img.get_pixel(3, 3);
    assert!(
        top_right[0] > 200 && top_right[1] < 60,
        "top right {top_right:?}"
    );
    assert!(
        top_left[0] < 200 || top_left[1] > 60,
        "top left {top_left:?}"
    );
}

#[test]
fn cmyk_jpeg_decodes_to_the_right_rgb() {
    // Left half was pure red before PIL's RGB → CMYK conversion.
    let img = load("tree/train/dog/dog_cmyk.jpg");
    let p = img.get_pixel(20, 40);
    assert!(
        p[0] > 225 && p[1] < 30 && p[2] < 30,
        "expected ≈ red, got {p:?}"
    );
}

#[test]
fn transparent_pixels_become_white() {
    let img = load("tree/train/dog/dog_rgba.png");
    assert_eq!(*img.get_pixel(10, 10), Rgb([255, 255, 255]));
    assert_ne!(*img.get_pixel(90, 70), Rgb([255, 255, 255]));
}

#[test]
fn alpha_compositing_and_16_bit_rounding_are_exact() {
    let rgba = ImageBuffer::from_fn(3, 1, |x, _| match x {
        0 => Rgba([0u8, 0, 0, 128]),
        1 => Rgba([10, 200, 30, 255]),
        _ => Rgba([100, 100, 100, 0]),
    });
    let img = load_rgb8_from_bytes(&png_bytes(&rgba), Path::new("mem.png")).unwrap();
    // 255·127/255 = 127; opaque unchanged; transparent → white.
    assert_eq!(img.as_raw(), &[127, 127, 127, 10, 200, 30, 255, 255, 255]);

    let rgb16 = ImageBuffer::from_fn(2, 1, |x, _| Rgb([(x as u16 * 100 + 7) * 257, 0, 65535]));
    let img = load_rgb8_from_bytes(&png_bytes(&rgb16), Path::new("mem16.png")).unwrap();
    assert_eq!(img.as_raw(), &[7, 0, 255, 107, 0, 255]);
}

#[test]
fn gray_becomes_equal_channels() {
    let img = load("tree/train/cat/cat_gray.jpg");
    assert!(img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
    let img = load("tree/train/dog/dog_gray16.png");
    assert!(img.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
}

fn expect_err(rel: &str, kind: &str) {
    let path = fixture(rel);
    for err in [probe(&path).unwrap_err(), load_rgb8(&path).unwrap_err()] {
        assert_eq!(err.kind(), kind, "{rel}: {err}");
        assert_eq!(err.path(), path);
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(err.to_string().contains(&file), "{err}");
    }
}

#[test]
fn bad_files_are_reported_with_path_and_reason() {
    expect_err("tree/train/cat/cat_truncated.jpg", "corrupt");
    expect_err("tree/train/dog/dog_zero.jpg", "empty");
    expect_err("tree/train/fish/fish_notes.jpg", "not-an-image");
    expect_err("raw/epsilon/e_broken.png", "corrupt");
    expect_err("bomb.png", "too-large");
    expect_err("does/not/exist.jpg", "io");
    let err = probe(&fixture("tree/train/fish/fish_notes.jpg")).unwrap_err();
    assert!(err.reason().contains("text"), "{err}");
}

#[test]
fn truncated_png_is_refused() {
    let full = std::fs::read(fixture("tree/train/dog/dog_rgba.png")).unwrap();
    let cut = &full[..full.len() / 2];
    let err = load_rgb8_from_bytes(cut, Path::new("cut.png")).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
}

#[test]
fn image_crate_alone_decodes_a_truncated_jpeg_silently_so_the_eoi_check_is_needed() {
    let bytes = std::fs::read(fixture("tree/train/cat/cat_truncated.jpg")).unwrap();
    let lenient = image::load_from_memory(&bytes).expect("zune-jpeg fills the missing part");
    assert_eq!((lenient.width(), lenient.height()), (200, 150));
    let err = load_rgb8_from_bytes(&bytes, Path::new("t.jpg")).unwrap_err();
    assert!(err.reason().contains("end-of-image"), "{err}");
}
