//! The facts an exported classifier carries: ONNX `metadata_props` and `classifier.json`.

use super::Precision;
use crate::backbone::sidecar::Sidecar;
use crate::checkpoint::{TrainedRun, CONFIG_FILE};
use crate::onnx_build::compose::{InputKind, View};
use crate::preprocess::PreprocessConfig;
use anyhow::Result;
use onnx_protobuf::{ModelProto, StringStringEntryProto};
use serde_json::{json, Value};
use std::path::Path;

/// Value of the `format` key.
pub const CLASSIFIER_FORMAT: &str = "pipeline-classifier";
/// Version of the metadata keys this build writes and `predict --classifier` reads.
pub const CLASSIFIER_SCHEMA: u32 = 1;

/// Everything recorded about one export, as JSON values keyed like the metadata.
pub struct Facts {
    entries: Vec<(&'static str, Value)>,
}

/// The sidecar's `precision` (written by `pipeline quantize`); `f32` when absent.
pub fn sidecar_precision(model: &Path) -> Result<Precision> {
    Ok(Sidecar::load(&Sidecar::path_for(model))?.precision)
}

/// What the `image` input takes: the one statement of the decoding contract (docs/shipping.md
/// repeats it; `tests/docs_run.rs` checks its snippets against `predict`).
pub const IMAGE_CONTRACT: &str = "one RGB image of any size, decoded as pipeline decodes it: EXIF orientation applied, alpha composited on white, gray as R = G = B, 16-bit channels rounded to 8 bits; resize, crop and normalisation run inside the graph";

fn input_contract(input: InputKind, pre: &PreprocessConfig) -> Value {
    let s = pre.crop;
    match input {
        InputKind::Image => json!({
            "name": "image", "dtype": "uint8", "shape": [1, "height", "width", 3],
            "meaning": IMAGE_CONTRACT,
        }),
        InputKind::Crop => json!({
            "name": "crop", "dtype": "uint8", "shape": ["batch", s, s, 3],
            "meaning": format!("RGB centre crops: resize the shorter side to {} (bilinear, antialiased, as PIL), centre-crop {s}", pre.resize_shorter),
        }),
    }
}

impl Facts {
    pub fn new(
        run: &TrainedRun,
        sidecar: &Sidecar,
        model_hash: &str,
        pre: &PreprocessConfig,
        input: InputKind,
        precision: Precision,
        views: &[View],
    ) -> Facts {
        let config_hash =
            crate::file_check::hash(&run.dir.join(CONFIG_FILE), crate::file_check::MAX_JSON)
                .unwrap_or_default();
        let view_names = if input == InputKind::Crop || views == [View::CENTRE] {
            json!(["centre"])
        } else if views.len() != run.input.view_names().len() {
            // Dense views (alone or beside the whole-image view) are named as the run names them.
            json!(run.input.view_names())
        } else {
            json!(views.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>())
        };
        let precision = json!(precision.name());
        let entries = vec![
            ("format", json!(CLASSIFIER_FORMAT)),
            ("schema_version", json!(CLASSIFIER_SCHEMA)),
            ("tool_version", json!(env!("CARGO_PKG_VERSION"))),
            ("classes", json!(run.classes)),
            ("input", input_contract(input, pre)),
            (
                "outputs",
                json!({"probabilities": ["batch", run.classes.len()], "logits": ["batch", run.classes.len()]}),
            ),
            ("views", view_names),
            ("preprocess", serde_json::to_value(pre).unwrap_or_default()),
            ("precision", precision),
            ("head", json!(run.head.kind().name())),
            ("backbone_name", json!(sidecar.name)),
            ("backbone_source", json!(sidecar.source)),
            ("backbone_licence", json!(sidecar.licence)),
            ("backbone_hash", json!(model_hash)),
            ("cache_key", json!(run.cache_key)),
            ("config_hash", json!(config_hash)),
        ];
        Facts { entries }
    }

    /// Adds a fact (a run on concatenated features adds its further backbones as `parts`).
    pub fn push(&mut self, key: &'static str, value: Value) {
        self.entries.push((key, value));
    }

    /// Adds the run's novelty score: the `novelty` output and how to read it.
    pub fn add_novelty(&mut self, n: &crate::novelty::Novelty) {
        for (k, v) in &mut self.entries {
            if *k == "outputs" {
                v["novelty"] = json!(["batch"]);
            }
        }
        self.push(
            "novelty",
            json!({
                "output": "novelty",
                "score": crate::novelty::SCORE,
                "definition": "1 - the mean of the k largest cosines between the image's L2-normalised view-averaged feature row and the reference rows (the run's train+valid images, L2-normalised); higher = less like the training photos",
                "k": n.k,
                "reference_rows": n.reference.nrows(),
                "threshold": n.threshold,
                "unknown_when": "novelty > threshold",
                "calibration": n.calibration,
            }),
        );
    }

    /// Writes the facts into `metadata_props` (strings stay bare, the rest as JSON) and the
    /// producer fields.
    pub fn stamp(&self, model: &mut ModelProto) -> Result<()> {
        model.producer_name = "pipeline".into();
        model.producer_version = env!("CARGO_PKG_VERSION").into();
        model.metadata_props = self
            .entries
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.to_string(),
                value: match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                ..Default::default()
            })
            .collect();
        Ok(())
    }

    /// `classifier.json`: the same facts plus the blake3 hash and size of the ONNX file.
    pub fn to_json(&self, onnx_bytes: &[u8]) -> Result<String> {
        let mut map = serde_json::Map::new();
        for (k, v) in &self.entries {
            map.insert(k.to_string(), v.clone());
        }
        map.insert(
            "onnx_blake3".into(),
            json!(blake3::hash(onnx_bytes).to_hex().to_string()),
        );
        map.insert("onnx_bytes".into(), json!(onnx_bytes.len()));
        Ok(serde_json::to_string_pretty(&Value::Object(map))? + "\n")
    }
}
