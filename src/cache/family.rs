//! Row identity across caches: what a cached row is, whatever split or position it sits at.

use super::{CacheSpec, RowKind, CACHE_SCHEMA};

/// The identity of a kind of row, independent of split, position and image list: backbone,
/// preprocessing, dtype and width, and the view (a deterministic view's name, or an augmented
/// pass with its seed and augmentation settings). With an image's content hash it names a row.
pub fn row_family(spec: &CacheSpec, kind: &RowKind) -> blake3::Hash {
    let view = match kind {
        RowKind::View(name) => serde_json::json!({ "view": name }),
        RowKind::Augmented(pass) => {
            serde_json::json!({ "pass": pass, "seed": spec.seed, "augment": spec.augment })
        }
    };
    let family = serde_json::json!({
        "schema": CACHE_SCHEMA,
        "backbone": spec.backbone_hash,
        "sidecar": spec.sidecar,
        "preprocess": spec.preprocess,
        "dtype": spec.dtype,
        "dim": spec.feature_dim,
        "row": view,
    });
    blake3::hash(&serde_json::to_vec(&family).unwrap_or_default())
}
