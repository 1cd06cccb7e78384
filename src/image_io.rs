//! Part `image_io`: recognise images by content, probe their headers, decode anything to 8-bit RGB.
//!
//! Contract of [`load_rgb8`]: the result is always `RgbImage` (8 bits per channel) in display
//! orientation (EXIF orientation applied). Alpha (RGBA, gray+alpha, palette with tRNS) is
//! composited on **white**; gray becomes R = G = B; 16-bit channels are rounded to 8 bits; CMYK
//! JPEGs are converted by the JPEG decoder (zune-jpeg, Adobe-inverted CMYK as written by Photoshop
//! and PIL). Images over [`MAX_PIXELS`] pixels are refused before any pixel is decoded.
//! JPEG and PNG files that stop before their end marker are refused as truncated (zune-jpeg would
//! otherwise return the missing part as gray).

use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageError, ImageFormat, RgbImage};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// Largest accepted image in pixels (width × height after decoding the header): PIL's
/// decompression-bomb error threshold (2 × 89,478,485).
pub const MAX_PIXELS: u64 = 178_956_970;

/// Allocation ceiling handed to the `image` decoders, in bytes.
const MAX_ALLOC: u64 = 2 << 30;

/// What a header says about an image.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ImageInfo {
    /// Container format found from the content: "jpeg", "png", "gif", "bmp", "tiff", "webp".
    pub format: String,
    /// Width in pixels after EXIF orientation.
    pub width: u32,
    /// Height in pixels after EXIF orientation.
    pub height: u32,
    /// Colour type as stored: "rgb8", "rgba8", "l8", "la8", "l16", "rgb16", "palette", "cmyk", ...
    pub color: String,
    /// EXIF orientation 1..=8 (1 = as stored).
    pub orientation: u8,
}

/// Why a file is not a usable image. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImageLoadError {
    #[error("{}: empty file (0 bytes); delete it or replace it with the real image", path.display())]
    Empty { path: PathBuf },
    #[error("{}: not an image ({reason}); supported are JPEG, PNG, GIF, BMP, TIFF and WebP: move it out of the dataset", path.display())]
    NotAnImage { path: PathBuf, reason: String },
    #[error("{}: truncated or corrupt {format} ({reason}); re-export or re-download it, or delete it", path.display())]
    Corrupt {
        path: PathBuf,
        format: String,
        reason: String,
    },
    #[error("{}: unsupported {format} ({reason}); convert it to PNG or JPEG", path.display())]
    Unsupported {
        path: PathBuf,
        format: String,
        reason: String,
    },
    #[error("{}: too large ({reason}; limit {MAX_PIXELS} pixels, a decompression-bomb guard); downscale it", path.display())]
    TooLarge { path: PathBuf, reason: String },
    #[error("{}: cannot read ({source}); check that it exists and is readable", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ImageLoadError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            Self::Empty { path }
            | Self::NotAnImage { path, .. }
            | Self::Corrupt { path, .. }
            | Self::Unsupported { path, .. }
            | Self::TooLarge { path, .. }
            | Self::Io { path, .. } => path,
        }
    }

    /// A short machine-readable name of the problem: "empty", "not-an-image", "corrupt",
    /// "unsupported", "too-large" or "io".
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty { .. } => "empty",
            Self::NotAnImage { .. } => "not-an-image",
            Self::Corrupt { .. } => "corrupt",
            Self::Unsupported { .. } => "unsupported",
            Self::TooLarge { .. } => "too-large",
            Self::Io { .. } => "io",
        }
    }

    /// The reason alone, without the path.
    pub fn reason(&self) -> String {
        match self {
            Self::Empty { .. } => "empty file (0 bytes)".into(),
            Self::NotAnImage { reason, .. } | Self::TooLarge { reason, .. } => reason.clone(),
            Self::Corrupt { format, reason, .. } | Self::Unsupported { format, reason, .. } => {
                format!("{format}: {reason}")
            }
            Self::Io { source, .. } => source.to_string(),
        }
    }
}

/// Reads the header (and EXIF orientation) of the image at `path`.
pub fn probe(path: &Path) -> Result<ImageInfo, ImageLoadError> {
    probe_bytes(&read(path)?, path)
}

/// Like [`probe`] on a file's bytes; `path` is only used in messages. Decodes headers only, plus
/// an end-marker check for JPEG and PNG (truncation); corruption inside the pixel data of other
/// formats shows only on a full decode.
pub fn probe_bytes(bytes: &[u8], path: &Path) -> Result<ImageInfo, ImageLoadError> {
    let (format, mut decoder) = open(bytes, path)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let color = stored_color(format, bytes, decoder.original_color_type());
    let (w, h) = decoder.dimensions();
    let exif = orientation.to_exif();
    let (width, height) = if (5..=8).contains(&exif) {
        (h, w)
    } else {
        (w, h)
    };
    Ok(ImageInfo {
        format: format_name(format),
        width,
        height,
        color,
        orientation: exif,
    })
}

/// Decodes the image at `path` to 8-bit RGB (see the module contract).
pub fn load_rgb8(path: &Path) -> Result<RgbImage, ImageLoadError> {
    load_rgb8_from_bytes(&read(path)?, path)
}

/// Like [`load_rgb8`] on a file's bytes; `path` is only used in messages.
pub fn load_rgb8_from_bytes(bytes: &[u8], path: &Path) -> Result<RgbImage, ImageLoadError> {
    let (format, mut decoder) = open(bytes, path)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut img =
        DynamicImage::from_decoder(decoder).map_err(|e| map_error(e, format_name(format), path))?;
    img.apply_orientation(orientation);
    Ok(flatten_on_white(img))
}

/// Converts any decoded image to RGB8, compositing alpha on white.
pub fn flatten_on_white(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (o, p) in out.pixels_mut().zip(rgba.pixels()) {
        let a = u32::from(p[3]);
        for c in 0..3 {
            // c·a/255 + 255·(255 − a)/255, rounded.
            o[c] = ((u32::from(p[c]) * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

fn read(path: &Path) -> Result<Vec<u8>, ImageLoadError> {
    crate::file_check::read(path, crate::file_check::MAX_IMAGE).map_err(|source| {
        ImageLoadError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Recognises the format, checks truncation and size, and returns a decoder with limits set.
fn open<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<(ImageFormat, Box<dyn ImageDecoder + 'a>), ImageLoadError> {
    if bytes.is_empty() {
        return Err(ImageLoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    let format = image::guess_format(bytes).map_err(|_| ImageLoadError::NotAnImage {
        path: path.to_path_buf(),
        reason: describe_unknown(bytes),
    })?;
    let name = format_name(format);
    if let Some(reason) = truncation(format, bytes) {
        return Err(ImageLoadError::Corrupt {
            path: path.to_path_buf(),
            format: name,
            reason,
        });
    }
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| map_error(e, name.clone(), path))?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_PIXELS {
        return Err(ImageLoadError::TooLarge {
            path: path.to_path_buf(),
            reason: format!("{w}x{h} = {pixels} pixels"),
        });
    }
    Ok((format, Box::new(decoder)))
}

fn map_error(e: ImageError, format: String, path: &Path) -> ImageLoadError {
    let path = path.to_path_buf();
    match e {
        ImageError::Unsupported(u) => ImageLoadError::Unsupported {
            path,
            format,
            reason: u.to_string(),
        },
        ImageError::Limits(l) => ImageLoadError::TooLarge {
            path,
            reason: l.to_string(),
        },
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageLoadError::Corrupt {
                path,
                format,
                reason: format!("unexpected end of file: {io}"),
            }
        }
        ImageError::IoError(source) => ImageLoadError::Io { path, source },
        other => ImageLoadError::Corrupt {
            path,
            format,
            reason: other.to_string(),
        },
    }
}

/// "jpeg", "png", "gif", "bmp", "tiff", "webp", ...
fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_lowercase()
}

fn describe_unknown(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(12)];
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return "an ISO media file (HEIC/AVIF/MP4?), which this build cannot decode".into();
    }
    let sample = &bytes[..bytes.len().min(512)];
    let texty = sample
        .iter()
        .all(|&b| b == b'\n' || b == b'\r' || b == b'\t' || (0x20..0x7f).contains(&b) || b >= 0x80);
    if texty {
        return "content looks like text".into();
    }
    let hex: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    format!("unknown signature {}", hex.join(" "))
}

/// Some reason when a JPEG has no EOI marker after its first scan, or a PNG has no IEND chunk.
fn truncation(format: ImageFormat, bytes: &[u8]) -> Option<String> {
    match format {
        ImageFormat::Jpeg => {
            let sos = jpeg_segments(bytes).find(|&(marker, _)| marker == 0xDA)?.1;
            let has_eoi = bytes[sos..].windows(2).rev().any(|w| w == [0xFF, 0xD9]);
            (!has_eoi).then(|| {
                format!(
                    "no end-of-image marker after the scan data ({} bytes)",
                    bytes.len()
                )
            })
        }
        ImageFormat::Png => {
            let has_iend = bytes.windows(4).rev().any(|w| w == b"IEND");
            (!has_iend).then(|| format!("no IEND chunk ({} bytes)", bytes.len()))
        }
        _ => None,
    }
}

/// JPEG marker segments before the first scan: (marker byte, offset of the marker's 0xFF).
fn jpeg_segments(bytes: &[u8]) -> impl Iterator<Item = (u8, usize)> + '_ {
    let mut pos = 2usize; // after SOI
    let mut done = false;
    std::iter::from_fn(move || {
        while pos + 1 < bytes.len() && bytes[pos] == 0xFF && bytes[pos + 1] == 0xFF {
            pos += 1; // fill bytes
        }
        if done || pos + 3 >= bytes.len() || bytes[pos] != 0xFF {
            return None;
        }
        let at = pos;
        let marker = bytes[pos + 1];
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        done = marker == 0xDA;
        pos += 2 + len;
        Some((marker, at))
    })
}

/// The colour type as stored in the file; PNG and JPEG headers are read directly because the
/// decoders report their (expanded) output type.
fn stored_color(format: ImageFormat, bytes: &[u8], decoded: ExtendedColorType) -> String {
    let sniffed = match format {
        ImageFormat::Png => png_color(bytes),
        ImageFormat::Jpeg => jpeg_color(bytes),
        ImageFormat::Gif => Some("palette".to_string()),
        _ => None,
    };
    sniffed.unwrap_or_else(|| match decoded {
        ExtendedColorType::Cmyk8 | ExtendedColorType::Cmyk16 => "cmyk".into(),
        other => format!("{other:?}").to_lowercase(),
    })
}

fn png_color(bytes: &[u8]) -> Option<String> {
    // signature (8) + length (4) + "IHDR" (4) + width (4) + height (4) + depth (1) + type (1)
    if bytes.len() < 26 || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let depth = bytes[24];
    let kind = match bytes[25] {
        0 => "l",
        2 => "rgb",
        3 => return Some("palette".into()),
        4 => "la",
        6 => "rgba",
        _ => return None,
    };
    Some(format!("{kind}{depth}"))
}

fn jpeg_color(bytes: &[u8]) -> Option<String> {
    let is_sof = |m: u8| matches!(m, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF);
    let (_, at) = jpeg_segments(bytes).find(|&(m, _)| is_sof(m))?;
    match bytes.get(at + 9)? {
        1 => Some("l8".into()),
        3 => Some("rgb8".into()),
        4 => Some("cmyk".into()),
        n => Some(format!("{n}-component")),
    }
}

#[cfg(test)]
mod tests;
