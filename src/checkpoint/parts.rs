//! A run trained on concatenated features (`train-head --features A --features B`) records each
//! further cache and its backbone: the head's input row is the first cache's features (the run's
//! own `cache_dir`, `backbone_hash`, …), then each part's, in order; `feature_dim` is their sum.

use super::{CheckpointError, TrainedRun};
use crate::cache::FeatureCache;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One further cache of a run on concatenated features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePart {
    /// The cache as given to `train-head --features` (a directory or a manifest file in one).
    pub cache_dir: PathBuf,
    pub cache_key: String,
    pub backbone_hash: String,
    /// The backbone file the cache was extracted with, absolute where it could be resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone_path: Option<String>,
    pub preprocess: Value,
    pub feature_dim: usize,
}

impl FeaturePart {
    /// The part `cache`, opened from `path`, stands for.
    pub fn of(cache: &FeatureCache, path: &Path) -> FeaturePart {
        FeaturePart {
            cache_dir: path.to_owned(),
            cache_key: cache.key().to_owned(),
            backbone_hash: cache.backbone_hash().to_owned(),
            backbone_path: Some(&cache.manifest.stats.model_path)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    super::recorded::absolute_model_path(Path::new(p))
                        .display()
                        .to_string()
                }),
            preprocess: cache.preprocess_json(),
            feature_dim: cache.feature_dim(),
        }
    }

    /// The recorded backbone file; an error names it and the fix when it is gone.
    pub fn backbone(&self, run: &TrainedRun) -> Result<PathBuf, CheckpointError> {
        let Some(path) = self.backbone_path.as_deref().map(PathBuf::from) else {
            return Err(CheckpointError::NoBackbone {
                dir: run.dir.clone(),
            });
        };
        if !path.is_file() {
            return Err(CheckpointError::BackboneMissing {
                path,
                dir: run.dir.clone(),
                hash: self.backbone_hash.clone(),
            });
        }
        Ok(path)
    }
}

impl TrainedRun {
    /// Width of the first cache's features: the head's width less the parts'.
    pub fn first_width(&self) -> usize {
        self.feature_dim
            .saturating_sub(self.parts.iter().map(|p| p.feature_dim).sum())
    }
}
