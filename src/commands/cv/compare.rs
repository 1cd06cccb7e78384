//! `pipeline cv` on several caches of the same images, one per backbone: each cache and their
//! concatenated features run through the same re-splits, reported in one table with the paired
//! difference to the first cache, the extract speed and the feature width.

use super::join::{self, Side, Source};
use super::{chosen_views, mean_sd, one_repeat, open, pool, print_row, repeat_bytes, summary};
use super::{CvArgs, RepeatRow};
use crate::cache::FeatureCache;
use anyhow::{bail, Result};
use rayon::prelude::*;
use serde_json::{json, Value};

/// How the table's images/s are derived (also written into the JSON).
pub const SPEED_NOTE: &str = "images/s = the cache manifest's extract views/s ÷ the rows it computes per image (deterministic views and augmented passes); concatenated: both extracts one after the other, 1 / Σ (1 / images/s)";

/// One row of the table: a cache, or the concatenation of all of them.
struct Entry {
    label: String,
    width: usize,
    images_per_sec: Option<f64>,
    facts: Value,
}

fn entry(c: &FeatureCache, given: &str, views: &[String], labels: &mut Vec<String>) -> Entry {
    let mut l = c.backbone_label();
    if labels.contains(&l) {
        l = given.to_owned();
    }
    labels.push(l.clone());
    let s = &c.manifest.stats;
    let rpi = c.rows_per_image();
    Entry {
        label: l,
        width: c.feature_dim(),
        images_per_sec: c.images_per_sec(),
        facts: json!({
            "cache": given, "cache_key": c.key(), "backbone_hash": c.backbone_hash(),
            "model_path": s.model_path, "precision": s.precision, "provider": s.provider,
            "views": views, "views_per_sec": s.views_per_sec, "rows_per_image": rpi,
        }),
    }
}

/// Runs the comparison of `args.features` (two or more caches).
pub fn run(args: &CvArgs, f: [f64; 3]) -> Result<()> {
    let caches: Vec<FeatureCache> = args
        .features
        .iter()
        .map(|p| open(p))
        .collect::<Result<_>>()?;
    let given: Vec<String> = args
        .features
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    for (i, c) in caches.iter().enumerate() {
        if let Some(j) = caches[..i].iter().position(|d| d.key() == c.key()) {
            bail!(
                "{} and {} are the same cache (key {}); give each backbone's cache once",
                given[j],
                given[i],
                c.key()
            );
        }
    }
    let mut pools = Vec::with_capacity(caches.len());
    let mut entries = Vec::with_capacity(caches.len() + 1);
    let mut labels = Vec::new();
    for (c, g) in caches.iter().zip(&given) {
        let (names, notes) = chosen_views(args, c)?;
        for n in &notes {
            crate::say!("cv: {g}: not used: {n}");
        }
        entries.push(entry(c, g, &names, &mut labels));
        pools.push(pool::load(c, &names)?);
    }
    let side = |i: usize| Side {
        name: &given[i],
        cache: &caches[i],
        pool: &pools[i],
    };
    let maps: Vec<Vec<usize>> = (1..caches.len())
        .map(|i| join::align(&side(0), &side(i)))
        .collect::<Result<_>>()?;
    let refs: Vec<&pool::Pool> = pools.iter().collect();
    let mut sources: Vec<Source> = vec![Source::single(&pools[0], None)];
    sources.extend((1..pools.len()).map(|i| Source::single(&pools[i], Some(&maps[i - 1]))));
    let joined = Source::concat(&refs, &maps)?;
    let ips: Option<Vec<f64>> = entries.iter().map(|e| e.images_per_sec).collect();
    entries.push(Entry {
        label: labels.join(" + "),
        width: joined.width(),
        images_per_sec: ips.map(|v| 1.0 / v.iter().map(|x| 1.0 / x).sum::<f64>()),
        facts: json!({ "concatenated": true, "parts": labels, "views": joined.names }),
    });
    sources.push(joined);
    let labels_0 = pools[0].labels.clone();
    let classes = caches[0].classes().to_vec();
    let (tr, va, _) = super::resplit::stratified(&labels_0, f, args.seed, 0);
    let per_repeat: usize = pools
        .iter()
        .map(|p| repeat_bytes(p, tr.len() + va.len()))
        .sum();
    let held: usize = pools.iter().map(pool::Pool::bytes).sum();
    let jobs = args.jobs.unwrap_or_else(|| {
        rayon::current_num_threads()
            .min(((4usize << 30).saturating_sub(held) / per_repeat.max(1)).max(1))
    });
    crate::say!(
        "cv: {} images, {} caches and their concatenation ({} features), head {}, preset {}, {} repeats of a {}/{}/{} stratified re-split, {jobs} at once",
        labels_0.len(), caches.len(), entries.last().map_or(0, |e| e.width), args.head.name(),
        args.preset.name(), args.repeats, f[0], f[1], f[2]
    );
    let threads = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(rayon::current_num_threads()))
        .build()?;
    let order: Vec<u32> = (0..args.repeats).collect();
    let mut rows: Vec<Vec<RepeatRow>> = vec![Vec::new(); sources.len()];
    for wave in order.chunks(jobs) {
        let done = threads.install(|| {
            wave.par_iter()
                .map(|&r| {
                    sources
                        .iter()
                        .map(|s| one_repeat(args, s, &labels_0, &classes, f, r))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()
        })?;
        for per_source in done {
            for (e, row) in entries.iter().zip(&per_source) {
                crate::say!("{}:", e.label);
                print_row(row);
            }
            for (acc, row) in rows.iter_mut().zip(per_source) {
                acc.push(row);
            }
        }
        if let Some(path) = &args.json {
            write_json(args, &entries, &rows, path, order.len())?;
        }
    }
    print_table(args, &entries, &rows);
    if let Some(path) = &args.json {
        crate::say!("wrote {}", path.display());
    }
    Ok(())
}

/// Test top-1 of `rows` minus that of `first`, repeat by repeat, in points: (mean, SD, better,
/// worse).
fn paired(rows: &[RepeatRow], first: &[RepeatRow]) -> (f64, f64, usize, usize) {
    let d: Vec<f64> = rows
        .iter()
        .zip(first)
        .map(|(a, b)| 100.0 * (a.top1 - b.top1))
        .collect();
    let (m, sd) = mean_sd(d.iter().copied());
    let better = d.iter().filter(|x| **x > 0.0).count();
    let worse = d.iter().filter(|x| **x < 0.0).count();
    (m, sd, better, worse)
}

fn print_table(args: &CvArgs, entries: &[Entry], rows: &[Vec<RepeatRow>]) {
    let w = entries
        .iter()
        .map(|e| e.label.len())
        .max()
        .unwrap_or(8)
        .max(8);
    crate::say!(
        "cv comparison ({} repeats, head {}; mean ± SD over the same re-splits; Δ: paired difference of test top-1 to {}, points, re-splits better/worse):",
        rows[0].len(), args.head.name(), entries[0].label
    );
    crate::say!(
        "{:<w$}  {:>8}  {:>9}  {:>14}  {:>14}  {:>13}  {:>9}",
        "features",
        "width",
        "images/s",
        "test top-1 %",
        "test top-5 %",
        "Δ top-1",
        "better/worse"
    );
    for (i, (e, r)) in entries.iter().zip(rows).enumerate() {
        let s = summary(r);
        let (m, sd, b, wo) = paired(r, &rows[0]);
        let delta = if i == 0 {
            ("—".to_owned(), "—".to_owned())
        } else {
            (format!("{m:+.1} ± {sd:.1}"), format!("{b} / {wo}"))
        };
        crate::say!(
            "{:<w$}  {:>8}  {:>9}  {:>14}  {:>14}  {:>13}  {:>9}",
            e.label,
            e.width,
            e.images_per_sec
                .map_or("n/a".to_owned(), |v| format!("{v:.1}")),
            format!("{:.1} ± {:.1}", s.top1.0, s.top1.1),
            format!("{:.1} ± {:.1}", s.top5.0, s.top5.1),
            delta.0,
            delta.1
        );
    }
    crate::say!("{SPEED_NOTE}");
}

/// Writes the comparison JSON for the repeats done of `planned`.
fn write_json(
    args: &CvArgs,
    entries: &[Entry],
    rows: &[Vec<RepeatRow>],
    path: &std::path::Path,
    planned: usize,
) -> Result<()> {
    let list: Vec<Value> = entries
        .iter()
        .zip(rows)
        .map(|(e, r)| {
            let s = summary(r);
            let (m, sd, b, w) = paired(r, &rows[0]);
            let mut v = json!({
                "label": e.label, "feature_dim": e.width, "images_per_sec": e.images_per_sec,
                "top1_mean": s.top1.0, "top1_sd": s.top1.1, "top5_mean": s.top5.0, "top5_sd": s.top5.1,
                "nll_mean": s.nll.0, "nll_sd": s.nll.1,
                "mean_class_top1_mean": s.mean_class_top1.0, "mean_class_top1_sd": s.mean_class_top1.1,
                "top1_diff_mean": m, "top1_diff_sd": sd, "better": b, "worse": w,
                "rows": r,
            });
            if let (Some(o), Some(f)) = (v.as_object_mut(), e.facts.as_object()) {
                o.extend(f.clone());
            }
            v
        })
        .collect();
    let done = rows[0].len();
    let j = json!({
        "kind": "cv-compare",
        "repeats": done, "planned_repeats": planned, "complete": done == planned,
        "head": args.head.name(), "preset": args.preset.name(),
        "fractions": args.fractions, "seed": args.seed,
        "images": rows[0].first().map_or(0, |r| r.train_images + r.valid_images + r.test_images),
        "images_per_sec_note": SPEED_NOTE,
        "diff_against": entries[0].label,
        "entries": list,
    });
    Ok(crate::atomic::write_json(path, &j)?)
}
