//! Comparing two cache specs: names the first field that differs, in words a user can act on.

use crate::cache::CacheSpec;
use serde_json::Value;

/// The first difference between the spec a cache was made with and the one asked for, as
/// `field: cache has X, this run has Y`; `None` when they are equal.
pub fn first_difference(cached: &CacheSpec, wanted: &CacheSpec) -> Option<String> {
    let a = serde_json::to_value(cached).ok()?;
    let b = serde_json::to_value(wanted).ok()?;
    walk(&a, &b, "")
}

fn short(v: Option<&Value>) -> String {
    let s = v.map_or("(absent)".to_string(), |v| v.to_string());
    if s.len() > 80 {
        format!("{}…", &s[..s.floor_char_boundary(77)])
    } else {
        s
    }
}

fn join(path: &str, seg: &str) -> String {
    if path.is_empty() {
        seg.to_string()
    } else {
        format!("{path}.{seg}")
    }
}

/// A readable name for an array element: its `name` or `rel_path` when it has one.
fn element_name(v: &Value, i: usize) -> String {
    v.get("name")
        .or_else(|| v.get("rel_path"))
        .and_then(Value::as_str)
        .map_or(format!("[{i}]"), |s| format!("[{s}]"))
}

fn walk(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => walk(u, v, &join(path, k)),
                (u, v) => Some(format!(
                    "{}: cache has {}, this run has {}",
                    join(path, k),
                    short(u),
                    short(v)
                )),
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                let (nu, nv) = (element_name(u, i), element_name(v, i));
                if nu != nv {
                    return Some(format!(
                        "{path}{nu}: cache has {nu} at position {i}, this run has {nv} (images or classes added, removed or renamed)"
                    ));
                }
                if let Some(d) = walk(u, v, &format!("{path}{nu}")) {
                    return Some(d);
                }
            }
            (x.len() != y.len()).then(|| {
                format!(
                    "{path}: cache has {} entries, this run has {} (images or classes added or removed)",
                    x.len(),
                    y.len()
                )
            })
        }
        _ => (a != b).then(|| format!("{path}: cache has {a}, this run has {b}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::shard::FeatureDtype;
    use crate::cache::{CachedImage, SplitPlan, CACHE_SCHEMA};

    type Change = Box<dyn Fn(&mut CacheSpec)>;

    fn spec() -> CacheSpec {
        CacheSpec {
            schema_version: CACHE_SCHEMA,
            backbone_hash: "abc".into(),
            sidecar: serde_json::json!({"input_size": 224}),
            preprocess: serde_json::json!({"crop": 224}),
            augment: serde_json::json!({"scale": [0.8, 1.0]}),
            seed: 0,
            passes: 2,
            dtype: FeatureDtype::F32,
            feature_dim: 8,
            chunk_size: 4,
            classes: vec!["a".into(), "b".into()],
            splits: vec![SplitPlan {
                name: "train".into(),
                passes: 2,
                augmented: true,
                views: Vec::new(),
                images: vec![CachedImage {
                    rel_path: "a/1.jpg".into(),
                    label: 0,
                    bytes: 10,
                    blake3: "00ff".into(),
                }],
            }],
            store: Vec::new(),
        }
    }

    #[test]
    fn names_each_differing_field() {
        let base = spec();
        assert_eq!(first_difference(&base, &base), None);
        let cases: Vec<(&str, Change)> = vec![
            (
                "backbone_hash",
                Box::new(|s| s.backbone_hash = "def".into()),
            ),
            (
                "sidecar.input_size",
                Box::new(|s| s.sidecar["input_size"] = 240.into()),
            ),
            (
                "preprocess.crop",
                Box::new(|s| s.preprocess["crop"] = 200.into()),
            ),
            (
                "augment.scale",
                Box::new(|s| s.augment["scale"][0] = 0.5.into()),
            ),
            ("seed", Box::new(|s| s.seed = 1)),
            ("passes", Box::new(|s| s.passes = 3)),
            ("dtype", Box::new(|s| s.dtype = FeatureDtype::F16)),
            ("feature_dim", Box::new(|s| s.feature_dim = 16)),
            ("classes", Box::new(|s| s.classes.push("c".into()))),
            (
                "splits[train].images[a/1.jpg].bytes",
                Box::new(|s| s.splits[0].images[0].bytes = 11),
            ),
            (
                "splits[train].images[a/1.jpg].blake3",
                Box::new(|s| s.splits[0].images[0].blake3 = "00fe".into()),
            ),
            (
                "splits[train].images",
                Box::new(|s| s.splits[0].images.clear()),
            ),
        ];
        for (field, change) in cases {
            let mut other = base.clone();
            change(&mut other);
            let d = first_difference(&base, &other).expect("a difference");
            assert!(d.starts_with(field), "expected {field}, got {d}");
        }
    }
}
