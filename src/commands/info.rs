//! Stage `info`: what a backbone is and whether it loads — graph I/O, opset, producer, parameter
//! count, sidecar, ONNX Runtime version and path, execution providers.

use crate::backbone::onnx_graph::{self, format_dims, ModelSummary, TensorInfo};
use crate::backbone::sidecar::Sidecar;
use crate::backbone::Backbone;
use crate::commands::backbone_args::BackboneArgs;
use crate::output::{print_stdout, thousands};
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of the `info` stage.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub backbone: BackboneArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Everything `info` reports (the `--json` shape).
#[derive(Debug, Serialize)]
pub struct InfoReport {
    pub model: PathBuf,
    pub file_bytes: u64,
    pub blake3: String,
    pub ir_version: i64,
    pub opsets: Vec<(String, i64)>,
    pub producer: String,
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
    pub parameters: u64,
    pub parameter_layers: usize,
    pub nodes: usize,
    /// The sidecar in use (synthesised when `sidecar_synthesized`).
    pub sidecar: Sidecar,
    pub sidecar_path: PathBuf,
    pub sidecar_synthesized: bool,
    pub feature_dim: usize,
    pub ort_version: String,
    pub ort_library: PathBuf,
    pub providers_available: Vec<String>,
    /// Provider the session was built on: `cpu` or `cuda`.
    pub provider: String,
}

/// Runs the `info` stage.
pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    let summary = onnx_graph::read(&args.backbone.model)?;
    let backbone = Backbone::open(&args.backbone)?;
    let report = build(&summary, &backbone)?;
    if args.json {
        print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print_stdout(&render(&report))?;
    }
    Ok(())
}

/// Collects the report from the parsed graph and the opened backbone.
pub fn build(summary: &ModelSummary, backbone: &Backbone) -> anyhow::Result<InfoReport> {
    Ok(InfoReport {
        model: summary.path.clone(),
        file_bytes: summary.file_bytes,
        blake3: backbone.model_hash.clone(),
        ir_version: summary.ir_version,
        opsets: summary.opsets.clone(),
        producer: format!("{} {}", summary.producer_name, summary.producer_version)
            .trim()
            .to_string(),
        inputs: summary.inputs.clone(),
        outputs: summary.outputs.clone(),
        parameters: summary.parameter_count,
        parameter_layers: summary.layers.len(),
        nodes: summary.node_count,
        sidecar: backbone.sidecar.clone(),
        sidecar_path: Sidecar::path_for(&summary.path),
        sidecar_synthesized: backbone.sidecar_synthesized,
        feature_dim: backbone.feature_dim(),
        ort_version: backbone.ort.version.clone(),
        ort_library: backbone.ort.path.clone(),
        providers_available: backbone.ort.providers()?,
        provider: backbone.provider.clone(),
    })
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

fn tensors(list: &[TensorInfo]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|t| format!("{}: {} {}", t.name, t.elem_type, format_dims(&t.dims)))
        .collect();
    parts.join("; ")
}

fn sidecar_lines(r: &InfoReport) -> String {
    let s = &r.sidecar;
    let head = if r.sidecar_synthesized {
        format!(
            "none ({} not found); synthesised from the graph:",
            r.sidecar_path.display()
        )
    } else {
        r.sidecar_path.display().to_string()
    };
    let n = &s.normalization;
    format!(
        "sidecar      {head}\n\
         \x20 name       {} (arch {})\n\
         \x20 input      `{}` {} {}, {}×{} centre crop after resizing the shorter side to {}\n\
         \x20 normalise  (x·{} − mean) / std, mean {:?}, std {:?} (x in 0–255, model channel order)\n\
         \x20 features   {} from output `{}`\n\
         \x20 source     {}\n\
         \x20 licence    {}\n",
        s.name,
        s.arch,
        s.input_name,
        lower(s.layout),
        lower(s.channel_order),
        s.input_size,
        s.input_size,
        s.resize_shorter,
        n.scale,
        n.mean,
        n.std,
        s.feature_dim,
        s.output_name,
        s.source,
        s.licence
    )
}

/// The text report.
pub fn render(r: &InfoReport) -> String {
    let opsets: Vec<String> = r.opsets.iter().map(|(d, v)| format!("{d} {v}")).collect();
    let mut out = format!(
        "model        {} ({}, blake3 {})\n",
        r.model.display(),
        human_bytes(r.file_bytes),
        &r.blake3[..16.min(r.blake3.len())]
    );
    out += &format!(
        "format       ONNX IR {}, opset {}, producer {}\n",
        r.ir_version,
        opsets.join(", "),
        if r.producer.is_empty() {
            "?"
        } else {
            &r.producer
        }
    );
    out += &format!("inputs       {}\n", tensors(&r.inputs));
    out += &format!("outputs      {}\n", tensors(&r.outputs));
    out += &format!(
        "parameters   {} in {} layers ({} nodes)\n",
        thousands(r.parameters),
        r.parameter_layers,
        r.nodes
    );
    out += &sidecar_lines(r);
    out += &format!(
        "runtime      ONNX Runtime {} ({})\n",
        r.ort_version,
        r.ort_library.display()
    );
    out += &format!(
        "providers    available: {}; this session: {}\n",
        r.providers_available.join(", "),
        r.provider
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_units() {
        assert_eq!(human_bytes(843), "843 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(58_900_000), "56.2 MiB");
    }
}
