//! `RUN/optimizer.safetensors`, the state `--resume` continues from: the weights after the last
//! completed epoch (`last.0.weight` …), Adam's moments (`m.0.weight` …, `v.0.weight` …), the
//! best epoch's weights (`best.0.weight` …, when there is a best epoch), and in `__metadata__`
//! the Adam `step`, `epochs_done`, `bad_epochs` (epochs since the best), `best_epoch` with its
//! `best_loss`/`best_acc` (shortest round-trip decimal text, so exact), the `history` (JSON, one
//! record per epoch done) and the `cache_key`.
//!
//! One file holds the whole checkpoint, so one atomic rename commits it: a process killed between
//! writing `head.safetensors`, this file and `history.json` leaves them from different epochs,
//! and `--resume` continues from this file alone (rewriting the others). Files of older builds,
//! without `best.*` and `history`, are read with `head.safetensors` and `history.json`.

use super::{
    invalid, read_head, read_json, read_mlp, CheckpointError, HeadModel, HISTORY_JSON,
    OPTIMIZER_FILE, RUN_SCHEMA,
};
use crate::head::adam::Adam;
use crate::head::fit::{Best, FitConfig, FitState};
use crate::head::history::EpochRecord;
use crate::head::mlp::PARAM_NAMES;
use crate::head::tensor_file::{TensorReader, TensorWriter};
use std::path::Path;

/// Writes `RUN/optimizer.safetensors` for `state`.
pub fn write_state(
    dir: &Path,
    state: &FitState<f32>,
    cache_key: &str,
) -> Result<(), CheckpointError> {
    let mut w = TensorWriter::default();
    for (i, name) in PARAM_NAMES.iter().enumerate() {
        w.add(&format!("last.{name}"), state.mlp.params()[i].view());
        w.add(&format!("m.{name}"), state.adam.m[i].view());
        w.add(&format!("v.{name}"), state.adam.v[i].view());
        if let Some(b) = &state.best {
            w.add(&format!("best.{name}"), b.mlp.params()[i].view());
        }
    }
    let history = serde_json::to_string(&state.history)
        .map_err(|e| invalid(&dir.join(OPTIMIZER_FILE), e.to_string()))?;
    w.meta("history", history);
    let (best_epoch, best_loss, best_acc) = state
        .best
        .as_ref()
        .map_or((0, f64::INFINITY, 0.0), |b| (b.epoch, b.loss, b.acc));
    w.meta("schema_version", RUN_SCHEMA.to_string());
    w.meta("step", state.adam.step.to_string());
    w.meta("epochs_done", state.epochs_done.to_string());
    w.meta("bad_epochs", state.bad_epochs.to_string());
    w.meta("best_epoch", best_epoch.to_string());
    w.meta("best_loss", best_loss.to_string());
    w.meta("best_acc", best_acc.to_string());
    w.meta("cache_key", cache_key);
    w.write(&dir.join(OPTIMIZER_FILE), safetensors::Dtype::F32)?;
    Ok(())
}

fn num<T: std::str::FromStr>(
    m: &std::collections::HashMap<String, String>,
    path: &Path,
    key: &str,
) -> Result<T, CheckpointError> {
    m.get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| invalid(path, format!("metadata `{key}` is missing or not a number")))
}

/// Reads the state written by [`write_state`] plus the best weights and the history, for a run
/// trained with `cfg`. The Adam hyper-parameters come from `cfg`.
pub fn read_state(dir: &Path, cfg: &FitConfig) -> Result<FitState<f32>, CheckpointError> {
    let path = dir.join(OPTIMIZER_FILE);
    if !path.exists() {
        return Err(CheckpointError::Missing {
            dir: dir.to_path_buf(),
            file: OPTIMIZER_FILE,
        });
    }
    let r = TensorReader::open(&path)?;
    let m = r.metadata()?;
    if m.get("schema_version").map(String::as_str) != Some(&RUN_SCHEMA.to_string()) {
        let found = m
            .get("schema_version")
            .cloned()
            .unwrap_or_else(|| "none".into());
        return Err(CheckpointError::Version { path, found });
    }
    let mlp = read_mlp(&r, "last.")?;
    let mut adam = Adam::<f32>::new(cfg.adam, &[]);
    for name in PARAM_NAMES {
        adam.m.push(r.array::<f32>(&format!("m.{name}"))?);
        adam.v.push(r.array::<f32>(&format!("v.{name}"))?);
    }
    let shapes_ok = mlp
        .params()
        .iter()
        .zip(&adam.m)
        .zip(&adam.v)
        .all(|((p, m), v)| p.shape() == m.shape() && p.shape() == v.shape());
    if !shapes_ok {
        return Err(invalid(
            &path,
            "Adam moments and weights have different shapes",
        ));
    }
    adam.step = num(&m, &path, "step")?;
    let best_epoch: u32 = num(&m, &path, "best_epoch")?;
    // This file's own best weights and history (older builds kept them only in the run's
    // head.safetensors and history.json).
    let own = r.has(&format!("best.{}", PARAM_NAMES[0]));
    let best = if best_epoch == 0 {
        None
    } else if own {
        Some(Best {
            epoch: best_epoch,
            loss: num(&m, &path, "best_loss")?,
            acc: num(&m, &path, "best_acc")?,
            mlp: match read_mlp(&r, "best.")? {
                b if b.dims() == mlp.dims() => b,
                b => {
                    let why = format!("best weights {:?}, last {:?}", b.dims(), mlp.dims());
                    return Err(invalid(&path, why));
                }
            },
        })
    } else {
        let (head, meta) = read_head(dir)?;
        match head {
            HeadModel::Mlp(best_mlp) if meta.best_epoch == best_epoch => Some(Best {
                epoch: best_epoch,
                loss: num(&m, &path, "best_loss")?,
                acc: num(&m, &path, "best_acc")?,
                mlp: best_mlp,
            }),
            _ => {
                return Err(invalid(
                    &path,
                    format!(
                        "best epoch {best_epoch} does not match the MLP head in head.safetensors"
                    ),
                ))
            }
        }
    };
    let history: Vec<EpochRecord> = match m.get("history") {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| invalid(&path, format!("metadata `history` is not readable: {e}")))?,
        None => read_json(dir, HISTORY_JSON)?,
    };
    let epochs_done: u32 = num(&m, &path, "epochs_done")?;
    if history.len() != epochs_done as usize {
        return Err(invalid(
            &path,
            format!(
                "{epochs_done} epochs done but history.json has {}",
                history.len()
            ),
        ));
    }
    Ok(FitState {
        mlp,
        adam,
        epochs_done,
        best,
        bad_epochs: num(&m, &path, "bad_epochs")?,
        history,
    })
}
