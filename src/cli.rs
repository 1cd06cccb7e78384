//! Command-line interface: one clap-derive sub-command per stage; each stage owns its `Args`.

use clap::{Parser, Subcommand};

mod values;

/// Transfer-learning image classifiers: inspect the data, split it, run a frozen ImageNet
/// backbone once per augmentation pass into a feature cache, train a small head, evaluate, predict.
#[derive(Debug, Parser)]
#[command(name = "pipeline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Count images per class and split, measure image sizes, list unreadable or odd files.
    Inspect(crate::commands::inspect::InspectArgs),
    /// Split a raw ImageFolder tree into train/valid/test (50/25/25 by default), seeded and stable.
    Split(crate::commands::split::SplitArgs),
    /// Describe an ONNX backbone: inputs, outputs, opset, parameters, sidecar, ONNX Runtime version.
    Info(crate::commands::info::InfoArgs),
    /// Count parameters: total, frozen (backbone) and trainable (head), layer by layer.
    Params(crate::commands::params::ParamsArgs),
    /// Bare backbone throughput on pre-made tensors (the yardstick for `extract`).
    Bench(crate::commands::bench::BenchArgs),
    /// Run the frozen backbone over a split tree into the on-disk feature cache.
    Extract(crate::commands::extract::ExtractArgs),
    /// Print a feature cache's manifest in short.
    CacheInfo(crate::commands::cache_info::CacheInfoArgs),
    /// Write a grid of augmented views of one image, to see what the train augmentation does.
    AugmentPreview(crate::commands::augment_preview::PreviewArgs),
    /// Train the head (MLP or logistic baseline) on cached features.
    TrainHead(crate::commands::train_head::TrainArgs),
    /// Repeated random stratified re-splits of a cache's images: mean ± SD of test accuracy.
    Cv(crate::commands::cv::CvArgs),
    /// Evaluate a trained head on a cached split: top-1/top-5, per class, confusion.
    Eval(crate::commands::eval::EvalArgs),
    /// Predict the top-k classes of images or folders with a backbone and a trained head.
    Predict(crate::commands::predict::PredictArgs),
    /// Likely label errors, near-duplicates and outliers, from a feature cache.
    Audit(crate::commands::audit::AuditArgs),
    /// One self-contained HTML page of a `pipeline run` work directory.
    Report(crate::commands::report::ReportArgs),
    /// Write one ONNX file: uint8 image in, eval transform + backbone + head, probabilities out.
    Export(crate::commands::export::ExportArgs),
    /// Make a static int8 (QDQ, per-channel) backbone calibrated on your own images.
    Quantize(crate::commands::quantize::QuantizeArgs),
    /// The main job: inspect → split → extract → train-head → eval in one work directory.
    Run(crate::commands::run::RunArgs),
    /// What this binary finds where it runs: ONNX Runtime (every place looked at), the model
    /// store and its models, the Python that builds them.
    Doctor(crate::commands::doctor::DoctorArgs),
    /// The per-user model store: list, build NAME, path NAME.
    Models(crate::commands::models::ModelsArgs),
}

/// The CLI as parsed and shown: [`Cli`] with every default written one way, `[default: x]` at
/// the end of the flag's description, in `-h` and `--help` alike (clap's own puts it on a line of
/// its own in `--help`). The values are clap's, so the text cannot drift from the code.
pub fn command() -> clap::Command {
    inline_defaults(<Cli as clap::CommandFactory>::command())
}

fn inline_defaults(cmd: clap::Command) -> clap::Command {
    cmd.mut_subcommands(inline_defaults).mut_args(|a| {
        let vals = a.get_default_values();
        if vals.is_empty() || a.is_hide_default_value_set() || !a.get_action().takes_values() {
            return a;
        }
        let shown: Vec<String> = vals
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        let tag = format!("[default: {}]", shown.join(" "));
        let with_tag = |h: &clap::builder::StyledStr| format!("{} {tag}", h.to_string().trim_end());
        let help = a.get_help().map_or_else(|| tag.clone(), with_tag);
        let long = a.get_long_help().map(with_tag);
        let a = a.help(help).hide_default_value(true);
        match long {
            Some(l) => a.long_help(l),
            None => a,
        }
    })
}

/// Parses the process's arguments with [`command`] (exits with clap's message on an error).
pub fn parse() -> Cli {
    let matches = command().get_matches();
    <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Runs the chosen sub-command.
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Inspect(a) => crate::commands::inspect::run(a),
        Command::Split(a) => crate::commands::split::run(a),
        Command::Info(a) => crate::commands::info::run(a),
        Command::Params(a) => crate::commands::params::run(a),
        Command::Bench(a) => crate::commands::bench::run(a),
        Command::Extract(a) => crate::commands::extract::run(a),
        Command::CacheInfo(a) => crate::commands::cache_info::run(a),
        Command::AugmentPreview(a) => crate::commands::augment_preview::run(a),
        Command::TrainHead(a) => crate::commands::train_head::run(a),
        Command::Cv(a) => crate::commands::cv::run(a),
        Command::Eval(a) => crate::commands::eval::run(a),
        Command::Predict(a) => crate::commands::predict::run(a),
        Command::Audit(a) => crate::commands::audit::run(a),
        Command::Report(a) => crate::commands::report::run(a),
        Command::Export(a) => crate::commands::export::run(a),
        Command::Quantize(a) => crate::commands::quantize::run(a),
        Command::Run(a) => crate::commands::run::run(a),
        Command::Doctor(a) => crate::commands::doctor::run(a),
        Command::Models(a) => crate::commands::models::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
        command().debug_assert();
    }

    /// What `--help` shows of one sub-command: its about, every argument's help and every
    /// possible value's help.
    fn help_texts(cmd: &clap::Command) -> Vec<(String, String)> {
        let mut out = vec![(
            cmd.get_name().to_string(),
            cmd.get_about().map(ToString::to_string).unwrap_or_default(),
        )];
        for arg in cmd.get_arguments() {
            let name = format!("{} --{}", cmd.get_name(), arg.get_id());
            for h in [arg.get_help(), arg.get_long_help()].into_iter().flatten() {
                out.push((name.clone(), h.to_string()));
            }
            for v in arg.get_possible_values() {
                if let Some(h) = v.get_help() {
                    out.push((format!("{name}={}", v.get_name()), h.to_string()));
                }
            }
        }
        out
    }

    /// Every argument of every sub-command (`--help` and `--version` aside) is described, and
    /// its default, if any, is written `[default: x]` once, inline: no `(default: x)` prose and
    /// no default on a line of its own in `-h` or `--help`.
    #[test]
    fn every_flag_is_described_and_says_its_default_one_way() {
        let mut cli = command();
        let mut bad = vec![];
        for cmd in cli.get_subcommands_mut() {
            let name = cmd.get_name().to_string();
            for arg in cmd.get_arguments() {
                let id = format!("{name} --{}", arg.get_id());
                if ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                if help.trim().is_empty() {
                    bad.push(format!("{id}: no description"));
                }
                for h in [arg.get_help(), arg.get_long_help()].into_iter().flatten() {
                    let h = h.to_string();
                    if h.contains("(default") {
                        bad.push(format!("{id}: `(default` prose: {h}"));
                    }
                    if h.matches("[default:").count() > 1 {
                        bad.push(format!("{id}: two defaults: {h}"));
                    }
                }
            }
            for rendered in [cmd.render_help(), cmd.render_long_help()] {
                for line in rendered.to_string().lines() {
                    if line.trim_start().starts_with("[default:") {
                        bad.push(format!("{name}: a default on its own line: {line}"));
                    }
                }
            }
        }
        assert!(bad.is_empty(), "{bad:#?}");
    }

    #[test]
    fn inline_defaults_show_the_values_clap_parses() {
        let mut cli = command();
        let extract = cli.find_subcommand_mut("extract").unwrap();
        let help = extract.render_help().to_string();
        assert!(
            help.contains("Images per backbone call [default: 32]"),
            "{help}"
        );
        let m = command().get_matches_from([
            "pipeline", "extract", "--model", "m", "--data", "d", "--out", "o",
        ]);
        let Command::Extract(a) = <Cli as clap::FromArgMatches>::from_arg_matches(&m)
            .unwrap()
            .command
        else {
            panic!("not extract")
        };
        assert_eq!(a.batch, 32);
    }

    #[test]
    fn help_has_no_rustdoc_links() {
        let cli = Cli::command();
        let bad: Vec<_> = cli
            .get_subcommands()
            .flat_map(help_texts)
            .filter(|(_, h)| h.contains("[`"))
            .collect();
        assert!(bad.is_empty(), "rustdoc links in --help: {bad:#?}");
    }

    #[test]
    fn every_optional_value_flag_says_its_default() {
        let cli = Cli::command();
        let mut silent = vec![];
        for cmd in cli.get_subcommands() {
            // one of a required group is not optional: leaving all out is an error
            let in_required_group = |id: &clap::Id| {
                cmd.get_groups()
                    .any(|g| g.is_required_set() && g.get_args().any(|a| a == id))
            };
            for arg in cmd.get_arguments() {
                if in_required_group(arg.get_id()) {
                    continue;
                }
                let takes_value = arg.get_action().takes_values();
                let shown =
                    !arg.get_default_values().is_empty() && !arg.is_hide_default_value_set();
                let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
                if takes_value
                    && !arg.is_positional()
                    && !arg.is_required_set()
                    && !shown
                    && !help.contains("[default:")
                {
                    silent.push(format!("{} --{}", cmd.get_name(), arg.get_id()));
                }
            }
        }
        assert!(
            silent.is_empty(),
            "flags that do not say their default: {silent:#?}"
        );
    }
}
