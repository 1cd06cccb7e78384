//! Stage `params`: the notebook's "count the parameters", as a torchsummary-like table.
//!
//! Backbone layers come from the ONNX initializers (frozen). With `--run` the head is the one the
//! run trained (an MLP, a logistic head, or every member of an ensemble, see [`head_rows`]);
//! without it, the notebook's planned `Linear(D,H) → ReLU → Dropout → Linear(H,K) → LogSoftmax`,
//! named like the PyTorch `Sequential` (`0`, `3` hold weights). `D` = backbone feature width,
//! `H` hidden, `K` classes.

mod head_rows;

pub use head_rows::{head_rows, trained_head_rows};

use crate::backbone::onnx_graph::{self, ModelSummary};
use crate::backbone::sidecar::Sidecar;
use crate::output::{print_stdout, thousands};
use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of the `params` stage.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["model", "run"])))]
pub struct ParamsArgs {
    /// Trained run (WORKDIR/runs/HEAD): count its backbone(s) and the head it trained.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["model", "classes", "hidden"])]
    pub run: Option<PathBuf>,
    /// ONNX backbone whose initializers are counted as frozen parameters (with a planned MLP
    /// head of --hidden units and --classes outputs).
    #[arg(long, value_name = "PATH", requires = "classes")]
    pub model: Option<PathBuf>,
    /// Number of classes the planned head predicts (K) [default: none; required with --model].
    #[arg(long, value_name = "K")]
    pub classes: Option<usize>,
    /// Hidden width of the planned head (H).
    #[arg(long, value_name = "H", default_value_t = 256)]
    pub hidden: usize,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// One row of the table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    /// `backbone` or `head`.
    pub part: &'static str,
    pub name: String,
    pub op_type: String,
    /// Weight shapes (PyTorch convention for the head: `[out, in]`, `[out]`).
    pub shapes: Vec<Vec<i64>>,
    pub count: u64,
    pub trainable: bool,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct ParamsReport {
    pub model: PathBuf,
    pub feature_dim: usize,
    /// Hidden width of an MLP head (absent for a logistic head).
    pub hidden: Option<usize>,
    pub classes: usize,
    /// `mlp`, `logistic` or `mlp-ensemble`.
    pub head: String,
    /// The head's layers in words.
    pub head_layers: String,
    /// Whether the head is the one a run trained (`false`: the planned MLP of `--model`).
    pub trained: bool,
    pub rows: Vec<Row>,
    /// Backbone op types without parameters and how many nodes each.
    pub backbone_other_ops: std::collections::BTreeMap<String, usize>,
    pub total: u64,
    pub frozen: u64,
    pub trainable: u64,
}

/// Runs the `params` stage.
pub fn run(args: ParamsArgs) -> anyhow::Result<()> {
    let report = match (&args.run, &args.model, args.classes) {
        (Some(dir), _, _) => for_run(&crate::checkpoint::TrainedRun::load(dir)?)?,
        (None, Some(model), Some(classes)) => {
            anyhow::ensure!(classes >= 2, "--classes must be at least 2 (got {classes})");
            anyhow::ensure!(args.hidden >= 1, "--hidden must be at least 1 (got 0)");
            for_model(model, args.hidden, classes)?
        }
        _ => anyhow::bail!("give --run DIR, or --model PATH with --classes K"),
    };
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_stdout(&render(&report))?;
    }
    Ok(())
}

/// The feature width `D`: the sidecar's, checked against the graph's static output shape.
pub fn feature_dim(summary: &ModelSummary, sidecar: Option<&Sidecar>) -> anyhow::Result<usize> {
    let output = sidecar.map(|s| s.output_name.as_str());
    let graph = summary.static_feature_width(output);
    let side = sidecar.map(|s| s.feature_dim).filter(|&d| d > 0);
    match (side, graph) {
        (Some(s), Some(g)) if s != g => anyhow::bail!(
            "sidecar {} says feature_dim {s}, the graph's output has {g} features per image; regenerate the sidecar",
            Sidecar::path_for(&summary.path).display()
        ),
        (Some(d), _) | (None, Some(d)) => Ok(d),
        (None, None) => anyhow::bail!(
            "cannot tell the feature width of {}: no sidecar and the output shape is not static; write {} (see models/README.md)",
            summary.path.display(),
            Sidecar::path_for(&summary.path).display()
        ),
    }
}

/// The frozen rows of one backbone; `prefix` tells backbones of concatenated features apart.
fn backbone_rows(summary: &ModelSummary, prefix: &str) -> Vec<Row> {
    summary
        .layers
        .iter()
        .map(|l| Row {
            part: "backbone",
            name: format!("{prefix}{}", l.name),
            op_type: l.op_type.clone(),
            shapes: l.weights.iter().map(|w| w.dims.clone()).collect(),
            count: l.count,
            trainable: false,
        })
        .collect()
}

/// The head as a report names it.
struct HeadInfo {
    rows: Vec<Row>,
    kind: &'static str,
    layers: String,
    hidden: Option<usize>,
    classes: usize,
    trained: bool,
}

fn assemble(summaries: &[ModelSummary], d: usize, head: HeadInfo) -> ParamsReport {
    let mut rows = Vec::new();
    let mut other_ops = std::collections::BTreeMap::new();
    for (i, s) in summaries.iter().enumerate() {
        let prefix = if i == 0 {
            String::new()
        } else {
            format!("part{i}.")
        };
        rows.extend(backbone_rows(s, &prefix));
        for (op, n) in &s.other_ops {
            *other_ops.entry(op.clone()).or_insert(0) += n;
        }
    }
    rows.extend(head.rows);
    let frozen: u64 = rows.iter().filter(|r| !r.trainable).map(|r| r.count).sum();
    let trainable: u64 = rows.iter().filter(|r| r.trainable).map(|r| r.count).sum();
    ParamsReport {
        model: summaries[0].path.clone(),
        feature_dim: d,
        hidden: head.hidden,
        classes: head.classes,
        head: head.kind.into(),
        head_layers: head.layers,
        trained: head.trained,
        rows,
        backbone_other_ops: other_ops,
        total: frozen + trainable,
        frozen,
        trainable,
    }
}

/// Backbone rows (frozen) + the planned MLP head's rows `D → H → K` (trainable) + totals.
pub fn report(summary: &ModelSummary, d: usize, h: usize, k: usize) -> ParamsReport {
    let head = HeadInfo {
        rows: head_rows(d, h, k),
        kind: "mlp",
        layers: format!("Linear({d}, {h}) → ReLU → Dropout → Linear({h}, {k})"),
        hidden: Some(h),
        classes: k,
        trained: false,
    };
    assemble(std::slice::from_ref(summary), d, head)
}

/// Every backbone a trained run reads (frozen) and the head it trained (trainable).
pub fn for_run(run: &crate::checkpoint::TrainedRun) -> anyhow::Result<ParamsReport> {
    let mut paths = vec![run.recorded_backbone()?];
    for p in &run.parts {
        paths.push(p.backbone(run)?);
    }
    let summaries = paths
        .iter()
        .map(|p| onnx_graph::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let head = &run.head;
    let info = HeadInfo {
        rows: trained_head_rows(head),
        kind: head.kind().name(),
        layers: head.describe(),
        hidden: head.hidden(),
        classes: head.num_classes(),
        trained: true,
    };
    Ok(assemble(&summaries, head.feature_dim(), info))
}

fn shapes_text(shapes: &[Vec<i64>]) -> String {
    if shapes.is_empty() {
        return "-".into();
    }
    let parts: Vec<String> = shapes
        .iter()
        .map(|s| {
            let dims: Vec<String> = s.iter().map(i64::to_string).collect();
            format!("[{}]", dims.join(", "))
        })
        .collect();
    parts.join(" ")
}

/// The table as printed.
pub fn render(r: &ParamsReport) -> String {
    let label = |row: &Row| format!("{}.{} ({})", row.part, row.name, row.op_type);
    let w_name = r
        .rows
        .iter()
        .map(|x| label(x).len())
        .max()
        .unwrap_or(10)
        .clamp(16, 60);
    let w_shape = r
        .rows
        .iter()
        .map(|x| shapes_text(&x.shapes).len())
        .max()
        .unwrap_or(8)
        .clamp(12, 40);
    let rule = "-".repeat(w_name + w_shape + 30);
    let mut out = format!(
        "{:<w_name$}  {:<w_shape$}  {:>14}  trainable\n{rule}\n",
        "layer (type)", "weight shapes", "params"
    );
    for row in &r.rows {
        out += &format!(
            "{:<w_name$}  {:<w_shape$}  {:>14}  {}\n",
            label(row),
            shapes_text(&row.shapes),
            thousands(row.count),
            if row.trainable { "yes" } else { "no (frozen)" }
        );
    }
    if !r.backbone_other_ops.is_empty() {
        let ops: Vec<String> = r
            .backbone_other_ops
            .iter()
            .map(|(op, n)| format!("{op} ×{n}"))
            .collect();
        out += &format!("backbone nodes without parameters: {}\n", ops.join(", "));
    }
    out += &format!(
        "{rule}\nbackbone {} → {} head{} {} → {} classes (features D = {})\n",
        r.model.display(),
        if r.trained { "trained" } else { "planned" },
        if r.trained {
            format!(" ({})", r.head)
        } else {
            String::new()
        },
        r.head_layers,
        r.classes,
        r.feature_dim
    );
    out += &format!("Total params:     {:>14}\n", thousands(r.total));
    out += &format!("Frozen params:    {:>14}\n", thousands(r.frozen));
    out += &format!("Trainable params: {:>14}\n", thousands(r.trainable));
    out
}

/// Loads the summary and computes the report in one call (for other stages and tests).
pub fn for_model(
    model: &std::path::Path,
    hidden: usize,
    classes: usize,
) -> anyhow::Result<ParamsReport> {
    let summary = onnx_graph::read(model)?;
    let sidecar = Sidecar::load_for(model)
        .with_context(|| format!("reading the sidecar of {}", model.display()))?;
    let d = feature_dim(&summary, sidecar.as_ref())?;
    Ok(report(&summary, d, hidden, classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgg16_fc7_head_for_100_classes() {
        let rows = head_rows(4096, 256, 100);
        let trainable: u64 = rows.iter().map(|r| r.count).sum();
        assert_eq!(rows[0].count, 4096 * 256 + 256);
        assert_eq!(rows[3].count, 256 * 100 + 100);
        assert_eq!(trainable, 1_074_532);
        assert_eq!(rows[0].shapes, vec![vec![256, 4096], vec![256]]);
    }

    #[test]
    fn tiny_fixture_counts() {
        let model = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/backbone/tiny.onnx");
        let r = for_model(&model, 8, 3).unwrap();
        assert_eq!(r.feature_dim, 16);
        assert_eq!(r.frozen, 112);
        assert_eq!(r.trainable, (16 * 8 + 8) + (8 * 3 + 3));
        assert_eq!(r.total, r.frozen + r.trainable);
        let text = render(&r);
        assert!(text.contains("backbone.conv (Conv)"), "{text}");
        assert!(text.contains("Trainable params:"), "{text}");
    }
}
