//! `RUN/head.safetensors`: writing the trained head with PyTorch names, and reading it back with
//! its format, version and shapes checked against its metadata.

use super::{invalid, CheckpointError, HeadMeta, HeadModel, HEAD_FILE, HEAD_FORMAT, RUN_SCHEMA};
use crate::head::logistic::LinearHead;
use crate::head::mlp::{Mlp, PARAM_NAMES};
use crate::head::tensor_file::{TensorReader, TensorWriter};
use ndarray::{Array2, Ix1, Ix2};
use std::collections::HashMap;
use std::path::Path;

/// Writes `RUN/head.safetensors`.
pub fn write_head(dir: &Path, head: &HeadModel, meta: &HeadMeta) -> Result<(), CheckpointError> {
    let mut w = TensorWriter::default();
    match head {
        HeadModel::Mlp(m) => {
            for (name, p) in PARAM_NAMES.iter().zip(m.params()) {
                w.add(name, p);
            }
            w.meta("hidden", m.dims().1.to_string());
        }
        HeadModel::Logistic(l) => {
            w.add("0.weight", l.weight.view().into_dyn());
            w.add("0.bias", l.bias.view().into_dyn());
        }
        HeadModel::MlpEnsemble(ms) => {
            for (i, m) in ms.iter().enumerate() {
                for (name, p) in PARAM_NAMES.iter().zip(m.params()) {
                    w.add(&format!("{}{name}", member_prefix(i)), p);
                }
            }
            w.meta("hidden", ms[0].dims().1.to_string());
            w.meta("members", ms.len().to_string());
        }
    }
    let classes = serde_json::to_string(&meta.classes).map_err(|e| invalid(dir, e.to_string()))?;
    w.meta("format", HEAD_FORMAT);
    w.meta("schema_version", RUN_SCHEMA.to_string());
    w.meta("head_kind", head.kind().name());
    w.meta("classes", classes);
    w.meta("feature_dim", meta.feature_dim.to_string());
    w.meta("cache_key", meta.cache_key.clone());
    w.meta("best_epoch", meta.best_epoch.to_string());
    w.meta("tool_version", env!("CARGO_PKG_VERSION"));
    w.write(&dir.join(HEAD_FILE), safetensors::Dtype::F32)?;
    Ok(())
}

/// Tensor-name prefix of ensemble member `i`.
fn member_prefix(i: usize) -> String {
    format!("member{i}.")
}

/// Most members an ensemble file may declare (a bound on a damaged `members` field).
const MAX_MEMBERS: usize = 1000;

fn meta_field<'a>(
    m: &'a HashMap<String, String>,
    path: &Path,
    key: &str,
) -> Result<&'a str, CheckpointError> {
    m.get(key)
        .map(String::as_str)
        .ok_or_else(|| invalid(path, format!("metadata has no `{key}`")))
}

fn meta_num<T: std::str::FromStr>(
    m: &HashMap<String, String>,
    path: &Path,
    key: &str,
) -> Result<T, CheckpointError> {
    let v = meta_field(m, path, key)?;
    v.parse()
        .map_err(|_| invalid(path, format!("metadata `{key}` = {v:?} is not a number")))
}

fn matrix(r: &TensorReader, name: &str) -> Result<Array2<f32>, CheckpointError> {
    let a = r.array::<f32>(name)?;
    let shape = a.shape().to_vec();
    a.into_dimensionality::<Ix2>().map_err(|_| {
        invalid(
            &r.path,
            format!("`{name}` has shape {shape:?}, expected 2 dimensions"),
        )
    })
}

fn vector(r: &TensorReader, name: &str) -> Result<ndarray::Array1<f32>, CheckpointError> {
    let a = r.array::<f32>(name)?;
    let shape = a.shape().to_vec();
    a.into_dimensionality::<Ix1>().map_err(|_| {
        invalid(
            &r.path,
            format!("`{name}` has shape {shape:?}, expected 1 dimension"),
        )
    })
}

/// Reads an MLP stored under `prefix` (`""` or e.g. `"last."`) in a tensor file.
pub(crate) fn read_mlp(r: &TensorReader, prefix: &str) -> Result<Mlp<f32>, CheckpointError> {
    let n = |i: usize| format!("{prefix}{}", PARAM_NAMES[i]);
    Mlp::from_parts(
        matrix(r, &n(0))?,
        vector(r, &n(1))?,
        matrix(r, &n(2))?,
        vector(r, &n(3))?,
    )
    .map_err(|e| invalid(&r.path, e.to_string()))
}

/// Reads `RUN/head.safetensors`, checking its format, version and shapes against its metadata.
pub fn read_head(dir: &Path) -> Result<(HeadModel, HeadMeta), CheckpointError> {
    if let Some(e) = super::nearby::check_run_dir(dir) {
        return Err(e);
    }
    let path = dir.join(HEAD_FILE);
    if !path.exists() {
        return Err(CheckpointError::Missing {
            dir: dir.to_path_buf(),
            file: HEAD_FILE,
        });
    }
    let r = TensorReader::open(&path)?;
    let m = r.metadata()?;
    if m.get("format").map(String::as_str) != Some(HEAD_FORMAT) {
        return Err(invalid(
            &path,
            "not a pipeline head (metadata `format` is not `pipeline-head`)",
        ));
    }
    let version = meta_field(&m, &path, "schema_version")?;
    if version != RUN_SCHEMA.to_string() {
        return Err(CheckpointError::Version {
            path,
            found: version.to_string(),
        });
    }
    let classes: Vec<String> =
        serde_json::from_str(meta_field(&m, &path, "classes")?).map_err(|e| {
            invalid(
                &path,
                format!("metadata `classes` is not a JSON list of names: {e}"),
            )
        })?;
    let meta = HeadMeta {
        classes,
        feature_dim: meta_num(&m, &path, "feature_dim")?,
        cache_key: meta_field(&m, &path, "cache_key")?.to_string(),
        best_epoch: meta_num(&m, &path, "best_epoch")?,
    };
    let head = match meta_field(&m, &path, "head_kind")? {
        "mlp" => HeadModel::Mlp(read_mlp(&r, "")?),
        "logistic" => HeadModel::Logistic(LinearHead {
            weight: matrix(&r, "0.weight")?,
            bias: vector(&r, "0.bias")?,
        }),
        "mlp-ensemble" => {
            let n: usize = meta_num(&m, &path, "members")?;
            if !(2..=MAX_MEMBERS).contains(&n) {
                return Err(invalid(
                    &path,
                    format!("metadata `members` = {n}, expected 2 to {MAX_MEMBERS}"),
                ));
            }
            let ms = (0..n)
                .map(|i| read_mlp(&r, &member_prefix(i)))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(i) = ms.iter().position(|x| x.dims() != ms[0].dims()) {
                return Err(invalid(
                    &path,
                    format!(
                        "ensemble member {i} has shape (D, H, K) {:?}, member 0 {:?}",
                        ms[i].dims(),
                        ms[0].dims()
                    ),
                ));
            }
            HeadModel::MlpEnsemble(ms)
        }
        other => {
            return Err(invalid(
                &path,
                format!("unknown head_kind {other:?} (expected mlp, logistic or mlp-ensemble)"),
            ))
        }
    };
    let ok_linear = match &head {
        HeadModel::Logistic(l) => l.bias.len() == l.weight.nrows(),
        HeadModel::Mlp(_) | HeadModel::MlpEnsemble(_) => true,
    };
    if !ok_linear
        || head.feature_dim() != meta.feature_dim
        || head.num_classes() != meta.classes.len()
    {
        return Err(invalid(
            &path,
            format!(
                "weights take {} features to {} classes, metadata says {} features and {} classes",
                head.feature_dim(),
                head.num_classes(),
                meta.feature_dim,
                meta.classes.len()
            ),
        ));
    }
    check_weights(&path, &head)?;
    Ok((head, meta))
}

/// Refuses zero-width layers and non-finite weights: they would score as NaN, not fail.
fn check_weights(path: &Path, head: &HeadModel) -> Result<(), CheckpointError> {
    let (d, h, k, params) = match head {
        HeadModel::Mlp(m) => {
            let (d, h, k) = m.dims();
            (d, h, k, m.params().to_vec())
        }
        HeadModel::Logistic(l) => (
            l.weight.ncols(),
            1,
            l.weight.nrows(),
            vec![l.weight.view().into_dyn(), l.bias.view().into_dyn()],
        ),
        HeadModel::MlpEnsemble(ms) => {
            let (d, h, k) = ms[0].dims();
            (d, h, k, ms.iter().flat_map(|m| m.params()).collect())
        }
    };
    if d == 0 || h == 0 || k == 0 {
        return Err(invalid(
            path,
            format!("a layer has zero width ({d} features, {h} hidden, {k} classes)"),
        ));
    }
    let bad: usize = params
        .iter()
        .map(|p| p.iter().filter(|v| !v.is_finite()).count())
        .sum();
    if bad > 0 {
        return Err(invalid(path, format!("{bad} weights are NaN or infinite")));
    }
    Ok(())
}
