//! Stage `bench`: bare backbone throughput on pre-made tensors (no decoding, no preprocessing),
//! the yardstick `extract` is measured against.

use crate::backbone::Backbone;
use crate::commands::backbone_args::BackboneArgs;
use anyhow::{bail, Result};
use rand::Rng;
use std::time::Instant;

/// Arguments of `pipeline bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub backbone: BackboneArgs,
    /// Images per backbone call.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Timed calls (after one warm-up call); the median is reported.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `pipeline bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.batch == 0 || args.repeats == 0 {
        bail!("--batch and --repeats must be at least 1");
    }
    let mut bb = Backbone::open(&args.backbone)?;
    let mut rng = crate::seed::rng(0, &[b"bench"]);
    let input: Vec<f32> = (0..bb.input_len() * args.batch)
        .map(|_| rng.gen_range(-2.0..2.0))
        .collect();
    bb.run(&input, args.batch)?;
    let mut secs: Vec<f64> = (0..args.repeats)
        .map(|_| {
            let t = Instant::now();
            bb.run(&input, args.batch)
                .map(|_| t.elapsed().as_secs_f64())
        })
        .collect::<Result<_, _>>()?;
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    let ips = args.batch as f64 / median;
    if args.json {
        crate::say!(
            "{}",
            serde_json::json!({"model": args.backbone.model, "provider": bb.provider, "batch": args.batch,
                "repeats": args.repeats, "median_seconds_per_batch": median, "images_per_sec": ips})
        );
    } else {
        crate::say!(
            "{}: batch {} on {}: median {:.3} s per batch over {} calls = {:.1} images/s",
            args.backbone.model.display(),
            args.batch,
            bb.provider,
            median,
            args.repeats,
            ips
        );
    }
    Ok(())
}
