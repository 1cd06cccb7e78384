//! ONNX Runtime plumbing for [`super::Backbone`]: execution provider choice, the model's I/O,
//! sidecar synthesis and the checks that model and sidecar fit.

use super::{diagnose_load, BackboneError, BackboneOptions, Device};
use crate::backbone::ort_lib::OrtInfo;
use crate::backbone::sidecar::{ChannelOrder, Layout, Normalization, Sidecar, SIDECAR_SCHEMA};
use ort::session::Session;
use std::path::Path;

const CUDA_EP: &str = "CUDAExecutionProvider";

/// One graph input or output as ONNX Runtime sees it (`-1` = dynamic dim).
pub(super) struct Port {
    pub name: String,
    pub dims: Vec<i64>,
    pub elem_type: String,
}

pub(super) struct Io {
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
}

/// What [`validate`] learned.
pub(super) struct Checked {
    pub fixed_batch: Option<usize>,
    /// Product of the output's non-batch dims when all are fixed.
    pub static_width: Option<usize>,
    pub input_dims: Vec<i64>,
    pub output_dims: Vec<i64>,
}

enum Fail {
    Cuda(String),
    Load(String),
}

/// Builds the session on the requested device; returns it with the provider used.
pub(super) fn open(
    ort: &OrtInfo,
    path: &Path,
    args: &BackboneOptions,
) -> Result<(Session, String), BackboneError> {
    let has_cuda = ort
        .providers()
        .map(|p| p.iter().any(|n| n == CUDA_EP))
        .unwrap_or(false);
    let cuda_err = |reason: String| BackboneError::Cuda {
        reason,
        provider: ort.cuda_provider_path(),
    };
    let load_err = |fail: Fail| match fail {
        Fail::Cuda(r) => cuda_err(r),
        Fail::Load(r) => diagnose_load(path, r),
    };
    let cpu = || build(ort, path, args.threads, false).map_err(load_err);
    match args.device {
        Device::Cpu => Ok((cpu()?, "cpu".into())),
        Device::Cuda if !has_cuda => Err(cuda_err(format!(
            "ONNX Runtime at {} is a CPU-only build (no {CUDA_EP})",
            ort.path.display()
        ))),
        Device::Cuda => Ok((
            build(ort, path, args.threads, true).map_err(load_err)?,
            "cuda".into(),
        )),
        Device::Auto if !has_cuda => {
            eprintln!(
                "note: --device auto: ONNX Runtime at {} has no CUDA support; using CPU",
                ort.path.display()
            );
            Ok((cpu()?, "cpu".into()))
        }
        Device::Auto => match build(ort, path, args.threads, true) {
            Ok(s) => Ok((s, "cuda".into())),
            Err(Fail::Cuda(reason)) => {
                eprintln!("note: --device auto: CUDA unavailable ({reason}); using CPU");
                Ok((cpu()?, "cpu".into()))
            }
            Err(fail) => Err(load_err(fail)),
        },
    }
}

fn build(ort: &OrtInfo, path: &Path, threads: Option<usize>, cuda: bool) -> Result<Session, Fail> {
    build_from(ort, Source::File(path), threads, cuda)
}

/// Where a session's model comes from.
pub(super) enum Source<'a> {
    File(&'a Path),
    /// A graph derived in memory (the dense map body, see `crate::onnx_build::dense`).
    Memory(&'a [u8]),
}

/// Builds a session from `source` on CPU or (`cuda`) the CUDA provider.
fn build_from(
    ort: &OrtInfo,
    source: Source,
    threads: Option<usize>,
    cuda: bool,
) -> Result<Session, Fail> {
    let attempt = || -> Result<Session, Fail> {
        let load = |e: String| Fail::Load(e);
        let mut b = Session::builder(ort.environment()).map_err(|e| load(e.to_string()))?;
        if let Some(t) = threads {
            b = b.with_intra_threads(t).map_err(|e| load(e.to_string()))?;
        }
        if cuda {
            let ep = ort::ep::CUDA::default().build().error_on_failure();
            b = b
                .with_execution_providers([ep])
                .map_err(|e| Fail::Cuda(e.to_string()))?;
        }
        match source {
            Source::File(path) => b.commit_from_file(path),
            Source::Memory(bytes) => b.commit_from_memory(bytes),
        }
        .map_err(|e| load(e.to_string()))
    };
    crate::backbone::ort_lib::quietly(attempt).unwrap_or_else(|panic| Err(Fail::Load(panic)))
}

/// A session on the provider already chosen (`"cpu"` or `"cuda"`) for a graph held in memory.
pub(super) fn open_memory(
    ort: &OrtInfo,
    bytes: &[u8],
    threads: Option<usize>,
    provider: &str,
) -> Result<Session, String> {
    build_from(ort, Source::Memory(bytes), threads, provider == "cuda").map_err(|f| match f {
        Fail::Cuda(r) | Fail::Load(r) => r,
    })
}

/// The session's inputs and outputs.
pub(super) fn describe(session: &Session, path: &Path) -> Result<Io, BackboneError> {
    let port = |o: &ort::value::Outlet| -> Result<Port, BackboneError> {
        let dims = o
            .dtype()
            .tensor_shape()
            .map(|s| s.to_vec())
            .ok_or_else(|| unsupported(path, format!("`{}` is not a tensor", o.name())))?;
        let elem_type = o
            .dtype()
            .tensor_type()
            .map(|t| format!("{t:?}").to_lowercase())
            .unwrap_or_default();
        Ok(Port {
            name: o.name().to_string(),
            dims,
            elem_type,
        })
    };
    Ok(Io {
        inputs: session
            .inputs()
            .iter()
            .map(port)
            .collect::<Result<_, _>>()?,
        outputs: session
            .outputs()
            .iter()
            .map(port)
            .collect::<Result<_, _>>()?,
    })
}

fn unsupported(path: &Path, reason: String) -> BackboneError {
    BackboneError::Unsupported {
        path: path.to_owned(),
        reason,
    }
}

/// A sidecar guessed from the graph: layout from where the 3 channels sit, square size from the
/// fixed spatial dims (224 when dynamic), RGB, ImageNet mean/std, first output, width settled later.
pub(super) fn synthesize(path: &Path, io: &Io) -> Result<Sidecar, BackboneError> {
    let input = single_input(path, io)?;
    let (Some(output), 4) = (io.outputs.first(), input.dims.len()) else {
        return Err(unsupported(
            path,
            format!(
                "input `{}` has dims {:?}, expected rank 4 (an image batch)",
                input.name, input.dims
            ),
        ));
    };
    let d = &input.dims;
    let (layout, h, w) = match (d[1], d[3]) {
        (3, _) => (Layout::Nchw, d[2], d[3]),
        (_, 3) => (Layout::Nhwc, d[1], d[2]),
        _ => {
            return Err(unsupported(
                path,
                format!("cannot tell the channel axis of input dims {d:?} (neither axis 1 nor 3 is 3); write a sidecar"),
            ))
        }
    };
    let size = match (h, w) {
        (h, w) if h > 0 && w > 0 && h != w => {
            return Err(unsupported(path, format!("non-square input {h}×{w}")))
        }
        (h, _) if h > 0 => h,
        (_, w) if w > 0 => w,
        _ => 224,
    } as u32;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    Ok(Sidecar {
        schema_version: SIDECAR_SCHEMA,
        name: stem.unwrap_or_else(|| "model".into()),
        arch: "unknown".into(),
        input_name: input.name.clone(),
        output_name: output.name.clone(),
        input_size: size,
        resize_shorter: (f64::from(size) * 256.0 / 224.0).round() as u32,
        layout,
        channel_order: ChannelOrder::Rgb,
        normalization: Normalization::imagenet(),
        feature_dim: 0,
        source: "no sidecar: synthesised by pipeline from the graph's shapes".into(),
        licence: "unknown".into(),
        precision: Default::default(),
        f32_model_hash: None,
    })
}

/// The one-line warning printed when the sidecar was synthesised.
pub(super) fn synthesized_warning(path: &Path, s: &Sidecar) -> String {
    format!(
        "warning: no sidecar {}: assuming {} RGB input {}×{} (resize shorter side to {}), ImageNet mean/std, output `{}` with {} features; write the sidecar to be sure (see models/README.md)",
        Sidecar::path_for(path).display(),
        format!("{:?}", s.layout).to_uppercase(),
        s.input_size,
        s.input_size,
        s.resize_shorter,
        s.output_name,
        s.feature_dim
    )
}

fn single_input<'a>(path: &Path, io: &'a Io) -> Result<&'a Port, BackboneError> {
    match io.inputs.as_slice() {
        [one] => Ok(one),
        many => {
            let names: Vec<&str> = many.iter().map(|p| p.name.as_str()).collect();
            Err(unsupported(
                path,
                format!(
                    "it has {} inputs ({}), a backbone takes exactly one image tensor",
                    many.len(),
                    names.join(", ")
                ),
            ))
        }
    }
}

/// Checks the model against the sidecar: one float32 rank-4 input, channels 3 on the layout's
/// axis, spatial dims dynamic or `input_size`, a float32 output of rank ≥ 2.
pub(super) fn validate(path: &Path, sc: &Sidecar, io: &Io) -> Result<Checked, BackboneError> {
    let mismatch = |reason: String| BackboneError::Mismatch {
        path: path.to_owned(),
        sidecar: Sidecar::path_for(path),
        reason,
    };
    sane_sidecar(sc).map_err(mismatch)?;
    let input = single_input(path, io)?;
    if input.name != sc.input_name {
        return Err(mismatch(format!(
            "sidecar input_name is `{}`, the model's input is `{}`",
            sc.input_name, input.name
        )));
    }
    if input.elem_type != "float32" || input.dims.len() != 4 {
        return Err(unsupported(
            path,
            format!(
                "input `{}` is {} {:?}, expected float32 of rank 4",
                input.name, input.elem_type, input.dims
            ),
        ));
    }
    let d = &input.dims;
    let (c, spatial) = match sc.layout {
        Layout::Nchw => (d[1], [d[2], d[3]]),
        Layout::Nhwc => (d[3], [d[1], d[2]]),
    };
    if c != 3 && c != -1 {
        return Err(mismatch(format!(
            "sidecar layout {:?} expects 3 channels there, model input dims are {d:?}",
            sc.layout
        )));
    }
    let s = i64::from(sc.input_size);
    if spatial.iter().any(|&x| x != -1 && x != s) {
        return Err(mismatch(format!(
            "model input is {}×{}, sidecar input_size is {s}",
            spatial[0], spatial[1]
        )));
    }
    let names: Vec<&str> = io.outputs.iter().map(|p| p.name.as_str()).collect();
    let output = io
        .outputs
        .iter()
        .find(|p| p.name == sc.output_name)
        .ok_or_else(|| {
            mismatch(format!(
                "no output named `{}` (outputs: {})",
                sc.output_name,
                names.join(", ")
            ))
        })?;
    if output.elem_type != "float32" || output.dims.len() < 2 {
        return Err(unsupported(
            path,
            format!(
                "output `{}` is {} {:?}, expected float32 [batch, …]",
                output.name, output.elem_type, output.dims
            ),
        ));
    }
    let static_width = output.dims[1..]
        .iter()
        .try_fold(1usize, |acc, &x| (x > 0).then(|| acc * x as usize));
    Ok(Checked {
        fixed_batch: (d[0] > 0).then_some(d[0] as usize),
        static_width,
        input_dims: input.dims.clone(),
        output_dims: output.dims.clone(),
    })
}

/// Values no image model can use: sizes out of 1..=8192, resize below the crop, zero/NaN std.
fn sane_sidecar(sc: &Sidecar) -> Result<(), String> {
    if !(1..=8192).contains(&sc.input_size) || sc.resize_shorter < sc.input_size {
        return Err(format!(
            "sidecar input_size {} / resize_shorter {} (need 1 ≤ input_size ≤ resize_shorter, input_size ≤ 8192)",
            sc.input_size, sc.resize_shorter
        ));
    }
    let n = &sc.normalization;
    let finite = n.mean.iter().chain(&n.std).all(|v| v.is_finite()) && n.scale.is_finite();
    if !finite || n.std.contains(&0.0) || n.scale == 0.0 {
        return Err(format!(
            "sidecar normalization scale {} mean {:?} std {:?} (need finite values, non-zero std and scale)",
            n.scale, n.mean, n.std
        ));
    }
    Ok(())
}

/// One forward pass; returns the named output's dims and floats (batch checked against `shape[0]`).
pub(super) fn infer(
    session: &mut Session,
    input_name: &str,
    output_name: &str,
    shape: [usize; 4],
    input: &[f32],
) -> Result<(Vec<usize>, Vec<f32>), String> {
    let tensor =
        ort::value::TensorRef::from_array_view((shape, input)).map_err(|e| e.to_string())?;
    let outputs = session
        .run(ort::inputs![input_name => tensor])
        .map_err(|e| e.to_string())?;
    let value = outputs
        .get(output_name)
        .ok_or_else(|| format!("the model produced no output `{output_name}`"))?;
    let (out_shape, data) = value
        .try_extract_tensor::<f32>()
        .map_err(|e| e.to_string())?;
    if out_shape.first().copied() != Some(shape[0] as i64) {
        return Err(format!(
            "output shape {out_shape} does not start with the batch {}",
            shape[0]
        ));
    }
    let dims = out_shape.iter().map(|&d| d.max(0) as usize).collect();
    Ok((dims, data.to_vec()))
}
