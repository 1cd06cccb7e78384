//! "None of these" measured on a real feature cache with classes held out of training, through
//! the tool's own score and threshold ([`pipeline::novelty::Novelty`], as `train-head` fits it
//! and `predict` applies it).
//!
//! The cache is one `pipeline run` of the whole data set (every class, split 50/25/25). Each draw
//! takes `--known` classes at random: the reference is their train and valid images' mean
//! features (what `train-head` fits the score on), the known queries their test images, the
//! unknown queries every image of the other classes. Printed per draw and in total: AUROC of the
//! novelty (unknown vs known; ties count half), the share of known test and of unknown images
//! above the calibrated threshold, and the calibration's own left-out rate. `--k 1,3` compares
//! neighbour counts; `class-mean` (cosine to the nearest class mean, computed here, not by the
//! tool) is the baseline of /work/shared/notes/unknown-photos.md.
//! Run: `cargo run --example novelty_eval -- --cache WORK/features [--draws 10 --known 8]`.

use anyhow::Context;
use clap::Parser;
use ndarray::{concatenate, Array2, Axis};
use pipeline::cache::FeatureCache;
use pipeline::head::data::load_views;
use pipeline::head::input::l2_normalize_rows;
use pipeline::novelty::{quantile_threshold, Novelty, TARGET_RATE};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::PathBuf;

#[derive(Debug, Parser)]
struct Args {
    /// Feature cache of every class with `train`, `valid` and `test` splits.
    #[arg(long)]
    cache: PathBuf,
    #[arg(long, default_value_t = 10)]
    draws: usize,
    /// Classes known to each draw's head; the rest are unknown.
    #[arg(long, default_value_t = 8)]
    known: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Neighbour counts to score with, comma-separated (the tool's default first).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    k: Vec<usize>,
    /// Also write the per-draw results here as JSON.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Per-image mean features and labels of one split.
struct Split {
    x: Array2<f32>,
    y: Vec<u32>,
}

fn split(cache: &FeatureCache, name: &str) -> anyhow::Result<Split> {
    let v = load_views(cache, name, None).with_context(|| format!("loading `{name}`"))?;
    Ok(Split {
        x: v.mean(),
        y: v.labels,
    })
}

/// Rows of `s` whose label is (or is not) in `known`.
fn rows(s: &Split, known: &[u32], want: bool) -> Array2<f32> {
    let idx: Vec<usize> = (0..s.y.len())
        .filter(|&i| known.contains(&s.y[i]) == want)
        .collect();
    s.x.select(Axis(0), &idx)
}

fn auroc(known: &[f32], unknown: &[f32]) -> f64 {
    let mut wins = 0.0;
    for &u in unknown {
        for &k in known {
            wins += if u > k {
                1.0
            } else if u == k {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (known.len() * unknown.len()) as f64
}

/// One score's numbers on one draw.
#[derive(Debug, Clone, serde::Serialize)]
struct Outcome {
    score: String,
    auroc: f64,
    known_flagged: usize,
    known: usize,
    unknown_flagged: usize,
    unknown: usize,
    calibration_flagged: usize,
    calibration_images: usize,
}

/// Cosine distance to the nearest class mean (unit rows), threshold from the same left-out
/// scheme: each reference image against class means computed without it.
/// Returns the queries' scores, the threshold and how many left-out images are above it.
fn class_mean(
    reference: &Array2<f32>,
    labels: &[u32],
    q: &[Array2<f32>],
) -> (Vec<Vec<f32>>, f32, usize) {
    let unit = |x: &Array2<f32>| {
        let mut x = x.clone();
        l2_normalize_rows(&mut x);
        x
    };
    let r = unit(reference);
    let classes: Vec<u32> = {
        let mut c = labels.to_vec();
        c.sort();
        c.dedup();
        c
    };
    let means = |skip: Option<usize>| -> Array2<f32> {
        let mut m = Array2::<f32>::zeros((classes.len(), r.ncols()));
        for (ci, c) in classes.iter().enumerate() {
            for (i, row) in r.rows().into_iter().enumerate() {
                if labels[i] == *c && Some(i) != skip {
                    let mut t = m.row_mut(ci);
                    t += &row;
                }
            }
        }
        l2_normalize_rows(&mut m);
        m
    };
    let score = |z: &Array2<f32>, m: &Array2<f32>| -> Vec<f32> {
        z.dot(&m.t())
            .rows()
            .into_iter()
            .map(|row| 1.0 - row.iter().copied().fold(f32::MIN, f32::max))
            .collect()
    };
    let loo: Vec<f32> = (0..r.nrows())
        .map(|i| {
            score(
                &r.slice(ndarray::s![i..i + 1, ..]).to_owned(),
                &means(Some(i)),
            )[0]
        })
        .collect();
    let all = means(None);
    let scores = q.iter().map(|x| score(&unit(x), &all)).collect();
    let t = quantile_threshold(&loo, TARGET_RATE);
    (scores, t, loo.iter().filter(|&&s| s > t).count())
}

fn outcome(score: String, known: &[f32], unknown: &[f32], t: f32, cal: (usize, usize)) -> Outcome {
    Outcome {
        score,
        auroc: auroc(known, unknown),
        known_flagged: known.iter().filter(|&&s| s > t).count(),
        known: known.len(),
        unknown_flagged: unknown.iter().filter(|&&s| s > t).count(),
        unknown: unknown.len(),
        calibration_flagged: cal.0,
        calibration_images: cal.1,
    }
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let cache = FeatureCache::open(&a.cache)?;
    let (train, valid, test) = (
        split(&cache, "train")?,
        split(&cache, "valid")?,
        split(&cache, "test")?,
    );
    let classes: Vec<u32> = (0..cache.classes().len() as u32).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let mut all: Vec<Vec<Outcome>> = Vec::new();
    let mut draws_known: Vec<Vec<String>> = Vec::new();
    for d in 0..a.draws {
        let mut known: Vec<u32> = classes
            .choose_multiple(&mut rng, a.known)
            .copied()
            .collect();
        known.sort();
        let reference = concatenate(
            Axis(0),
            &[
                rows(&train, &known, true).view(),
                rows(&valid, &known, true).view(),
            ],
        )?;
        let labels: Vec<u32> = train
            .y
            .iter()
            .chain(&valid.y)
            .copied()
            .filter(|y| known.contains(y))
            .collect();
        let q_known = rows(&test, &known, true);
        let q_unknown = concatenate(
            Axis(0),
            &[
                rows(&train, &known, false).view(),
                rows(&valid, &known, false).view(),
                rows(&test, &known, false).view(),
            ],
        )?;
        let mut draw = Vec::new();
        for &k in &a.k {
            let n = Novelty::fit(reference.view(), k)?;
            let (sk, su) = (n.scores(q_known.view()), n.scores(q_unknown.view()));
            let cal = (n.calibration.flagged, n.calibration.images);
            draw.push(outcome(
                format!("knn-cosine k={k}"),
                &sk,
                &su,
                n.threshold,
                cal,
            ));
        }
        let (s, t, flagged) =
            class_mean(&reference, &labels, &[q_known.clone(), q_unknown.clone()]);
        draw.push(outcome(
            "class-mean (baseline)".into(),
            &s[0],
            &s[1],
            t,
            (flagged, reference.nrows()),
        ));
        let names: Vec<String> = known
            .iter()
            .map(|&c| cache.classes()[c as usize].clone())
            .collect();
        println!("draw {d} ({})", names.join(", "));
        draws_known.push(names);
        for o in &draw {
            println!(
                "  {:24} AUROC {:.3}  known test flagged {}/{}  unknown flagged {}/{}",
                o.score, o.auroc, o.known_flagged, o.known, o.unknown_flagged, o.unknown
            );
        }
        all.push(draw);
    }
    println!(
        "over {} draws of {} known classes out of {}:",
        a.draws,
        a.known,
        classes.len()
    );
    let mut summary = Vec::new();
    for (i, first) in all[0].iter().enumerate() {
        let col: Vec<&Outcome> = all.iter().map(|d| &d[i]).collect();
        let n = col.len() as f64;
        let mean = col.iter().map(|o| o.auroc).sum::<f64>() / n;
        let sd =
            (col.iter().map(|o| (o.auroc - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
        let sum = |f: fn(&Outcome) -> usize| col.iter().map(|o| f(o)).sum::<usize>();
        println!(
            "  {:24} AUROC {mean:.3} (SD {sd:.3})  known test flagged {}/{} = {:.1} %  unknown flagged {}/{} = {:.1} %  calibration left-out flagged {}/{}",
            first.score,
            sum(|o| o.known_flagged),
            sum(|o| o.known),
            100.0 * sum(|o| o.known_flagged) as f64 / sum(|o| o.known) as f64,
            sum(|o| o.unknown_flagged),
            sum(|o| o.unknown),
            100.0 * sum(|o| o.unknown_flagged) as f64 / sum(|o| o.unknown) as f64,
            sum(|o| o.calibration_flagged),
            sum(|o| o.calibration_images),
        );
        summary.push(serde_json::json!({
            "score": first.score, "auroc_mean": mean, "auroc_sd": sd,
            "known_flagged": sum(|o| o.known_flagged), "known": sum(|o| o.known),
            "unknown_flagged": sum(|o| o.unknown_flagged), "unknown": sum(|o| o.unknown),
            "calibration_flagged": sum(|o| o.calibration_flagged),
            "calibration_images": sum(|o| o.calibration_images),
        }));
    }
    if let Some(out) = &a.out {
        // One line per draw keeps the file readable in a diff.
        let line = |v: serde_json::Value| v.to_string();
        let draws: Vec<String> = draws_known
            .iter()
            .zip(&all)
            .map(|(k, o)| line(serde_json::json!({"known": k, "outcomes": o})))
            .collect();
        let head = serde_json::json!({
            "cache": a.cache, "known": a.known, "seed": a.seed, "classes": cache.classes().len(),
        });
        let text = format!(
            "{{\"run\": {},\n\"summary\": [\n{}\n],\n\"draws\": [\n{}\n]}}\n",
            line(head),
            summary
                .into_iter()
                .map(line)
                .collect::<Vec<_>>()
                .join(",\n"),
            draws.join(",\n")
        );
        pipeline::atomic::write_file(out, text.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
