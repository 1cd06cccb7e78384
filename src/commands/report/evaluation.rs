//! Report section about the head's evaluation on the test split (top-1/top-5/NLL, per-class
//! table, confusion, accuracy vs train images), plus the test predictions the findings sections
//! show.

use super::html::{figure, table, Cell};
use super::{missing, svg, Workdir};
use ndarray::Array2;
use serde_json::Value;
use std::fmt::Write as _;

pub(super) fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// The head's probabilities on the test split's eval view.
pub struct Predictions {
    /// `split/class/file`.
    pub paths: Vec<String>,
    pub labels: Vec<u32>,
    /// `[N,K]`.
    pub proba: Array2<f32>,
    pub classes: Vec<String>,
}

impl Predictions {
    /// `None` when the cache, the run or the test split is missing or they do not fit together.
    pub fn compute(w: &Workdir) -> Option<Predictions> {
        let (c, r) = (w.cache.as_ref()?, w.trained.as_ref()?);
        if c.feature_dim() != r.feature_dim
            || c.classes() != r.classes.as_slice()
            || c.backbone_hash() != r.backbone_hash
        {
            return None;
        }
        let f = c.load("test", 0).ok()?;
        let mut proba = r.log_proba(f.features.view());
        proba.mapv_inplace(f32::exp);
        Some(Predictions {
            paths: f.paths.iter().map(|p| format!("test/{p}")).collect(),
            labels: f.labels,
            proba,
            classes: r.classes.clone(),
        })
    }

    /// The `n` most probable classes of row `i`, best first.
    pub fn top(&self, i: usize, n: usize) -> Vec<(usize, f32)> {
        let mut v: Vec<(usize, f32)> = self.proba.row(i).iter().copied().enumerate().collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v.truncate(n);
        v
    }
}

/// The evaluation section (test split).
pub fn evaluation(w: &Workdir) -> String {
    let Some(m) = &w.eval else {
        return missing(
            "test evaluation (runs/<head>/eval-test/metrics.json)",
            "run `pipeline eval --split test`",
        );
    };
    let pct = |k: &str| m[k].as_f64().unwrap_or(f64::NAN) * 100.0;
    let mut o = format!(
        "<p><span class=\"big\">top-1 {:.2} %</span><span class=\"big\">top-{} {:.2} %</span><span class=\"big\">NLL {:.4}</span><span class=\"big\">mean per-class top-1 {:.2} %</span></p><p class=\"note\">On {} test images.</p>",
        pct("top1"), s(&m["k5"]), pct("top5"), m["nll"].as_f64().unwrap_or(f64::NAN), pct("mean_class_top1"), s(&m["images"])
    );
    let per = m["per_class"].as_array().cloned().unwrap_or_default();
    let rows = per
        .iter()
        .map(|c| {
            let f = |k: &str| c[k].as_f64().unwrap_or(f64::NAN);
            vec![
                Cell::text(s(&c["class"])),
                Cell::int(c["train_count"].as_u64().unwrap_or(0) as usize),
                Cell::int(c["count"].as_u64().unwrap_or(0) as usize),
                Cell::pct(f("top1")),
                Cell::pct(f("top5")),
                Cell::num(f("loss"), format!("{:.3}", f("loss"))),
            ]
        })
        .collect();
    let pts: Vec<(f64, f64)> = per
        .iter()
        .map(|c| {
            (
                c["train_count"].as_f64().unwrap_or(0.0),
                c["top1"].as_f64().unwrap_or(0.0) * 100.0,
            )
        })
        .collect();
    let titles: Vec<String> = per
        .iter()
        .map(|c| {
            format!(
                "{}: {} train, top-1 {:.0} %",
                s(&c["class"]),
                s(&c["train_count"]),
                c["top1"].as_f64().unwrap_or(0.0) * 100.0
            )
        })
        .collect();
    let _ = write!(
        o,
        "<h3>Per class (worst first; click a header to sort)</h3><div class=\"row\">{}{}</div>",
        table(
            &[
                "class",
                "train images",
                "test images",
                "top-1",
                "top-5",
                "loss"
            ],
            rows,
            true
        ),
        figure(
            &svg::scatter(&pts, &titles, "training images", "test top-1 %"),
            "Accuracy per class vs its training images."
        )
    );
    let counts: Vec<Vec<usize>> =
        serde_json::from_value(m["confusion"].clone()).unwrap_or_default();
    let classes: Vec<String> = w
        .trained
        .as_ref()
        .map(|r| r.classes.clone())
        .or_else(|| w.cache.as_ref().map(|c| c.classes().to_vec()))
        .unwrap_or_default();
    if counts.len() == classes.len() && !counts.is_empty() {
        let norm: Vec<Vec<f64>> = counts
            .iter()
            .map(|r| {
                let t = r.iter().sum::<usize>().max(1) as f64;
                r.iter().map(|&v| v as f64 / t).collect()
            })
            .collect();
        let _ = write!(o, "<h3>Confusion matrix</h3>{}", figure(&svg::heatmap(&norm, &counts, &classes), "Row-normalised (each row sums to 100 %): row = true class, column = predicted class; hover a cell for its count."));
    }
    o
}
