//! Classify one image with a file made by `pipeline export` (`ort` 2.0 + `image` + `serde_json`):
//! `cargo run --example classify -- classifier.onnx cat.jpg`.
use std::error::Error;

/// Decodes an image as `pipeline` does: EXIF orientation applied, alpha composited on white.
pub fn load_rgb(path: &str) -> Result<image::RgbImage, Box<dyn Error>> {
    let mut decoder = image::ImageReader::open(path)?
        .with_guessed_format()?
        .into_decoder()?;
    let orientation = image::ImageDecoder::orientation(&mut decoder)?;
    let mut img = image::DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    let rgba = img.into_rgba8();
    Ok(image::RgbImage::from_fn(
        rgba.width(),
        rgba.height(),
        |x, y| {
            let p = rgba.get_pixel(x, y).0;
            let a = u32::from(p[3]);
            image::Rgb(
                [0, 1, 2].map(|c| ((u32::from(p[c]) * a + 255 * (255 - a) + 127) / 255) as u8),
            )
        },
    ))
}

/// The top class of the image at `path` and its probability, by the exported `model`.
pub fn classify(
    env: &ort::environment::Environment,
    model: &str,
    path: &str,
) -> Result<(String, f32), Box<dyn Error>> {
    let mut s = ort::session::Session::builder(env)?.commit_from_file(model)?;
    let classes = s
        .metadata()?
        .custom("classes")
        .ok_or("not made by `pipeline export`")?;
    let classes: Vec<String> = serde_json::from_str(&classes)?;
    let img = load_rgb(path)?;
    let shape = [1, img.height() as usize, img.width() as usize, 3];
    let x = ort::value::Tensor::from_array((shape, img.into_raw()))?;
    let out = s.run(ort::inputs!["image" => x])?;
    let (_, p) = out["probabilities"].try_extract_tensor::<f32>()?;
    let best = (0..p.len())
        .max_by(|&i, &j| p[i].total_cmp(&p[j]))
        .ok_or("no classes")?;
    Ok((classes[best].clone(), p[best]))
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (model, path) = match &args[..] {
        [_, m, p] => (m.as_str(), p.as_str()),
        _ => ("classifier.onnx", "cat.jpg"),
    };
    let env = ort::init().build()?; // one ONNX Runtime environment per process
    let (class, p) = classify(&env, model, path)?;
    println!("{class} {p}");
    Ok(())
}
