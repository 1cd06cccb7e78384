//! The report's extraction section: views and passes per split, the view names, the backbone's
//! precision, device, speed and cache key.

use super::html::{esc, facts, table, Cell};
use super::{missing, Workdir};
use std::fmt::Write as _;

/// The extraction section.
pub fn extraction(w: &Workdir) -> String {
    let Some(c) = &w.cache else {
        return missing(
            "feature cache (features/manifest.json)",
            "run `pipeline extract` or `pipeline run`",
        );
    };
    let m = &c.manifest;
    let views: Vec<String> = m
        .spec
        .splits
        .iter()
        .map(|sp| {
            let views = sp.view_rows().len();
            let passes = sp.passes as usize - views;
            let mut rows = Vec::new();
            if views > 0 {
                rows.push(format!("{views} view{}", if views == 1 { "" } else { "s" }));
            }
            if passes > 0 {
                rows.push(format!(
                    "{passes} augmented pass{}",
                    if passes == 1 { "" } else { "es" }
                ));
            }
            format!(
                "{}: {} images × {}",
                sp.name,
                sp.images.len(),
                rows.join(" + ")
            )
        })
        .collect();
    let st = &m.stats;
    let mut o = facts(&[
        ("cache key", m.key.clone()),
        ("views", views.join(" · ")),
        (
            "view names",
            m.spec
                .splits
                .iter()
                .find(|sp| !sp.views.is_empty())
                .map_or("none (eval view only)".into(), |sp| sp.views.join(", ")),
        ),
        (
            "backbone precision",
            if st.precision.is_empty() {
                "not recorded".into()
            } else {
                st.precision.clone()
            },
        ),
        (
            "features stored as",
            format!("{:?}", m.spec.dtype).to_lowercase(),
        ),
        ("device / provider", st.provider.clone()),
        (
            "speed",
            format!(
                "{} views in {:.1} s = {:.1} views/s",
                st.views, st.seconds, st.views_per_sec
            ),
        ),
        ("augmentation seed", m.spec.seed.to_string()),
        ("skipped images", m.skipped.len().to_string()),
        ("tool", m.tool_version.clone()),
    ]);
    let _ = write!(
        o,
        "<h3>Preprocessing</h3><pre>{}</pre><h3>Augmentation</h3><pre>{}</pre>",
        esc(&serde_json::to_string(&m.spec.preprocess).unwrap_or_default()),
        esc(&serde_json::to_string(&m.spec.augment).unwrap_or_default())
    );
    if !m.skipped.is_empty() {
        o += &table(
            &["split", "image", "reason"],
            m.skipped
                .iter()
                .map(|k| {
                    vec![
                        Cell::text(&k.split),
                        Cell::text(&k.rel_path),
                        Cell::text(&k.reason),
                    ]
                })
                .collect(),
            false,
        );
    }
    o
}
