//! `train-head --head logistic`: fits linfa-logistic on every cached train view and writes the
//! same run directory as the MLP (one history record, `best_epoch` 0).

use super::options::Plan;
use crate::checkpoint::{self as ckpt, HeadKind, HeadMeta, HeadModel, RunConfig, RunMetrics};
use crate::head::data::HeadData;
use crate::head::history::{format_line, EpochRecord};
use crate::head::logistic::fit_logistic;
use crate::head::loss::nll_sums;
use ndarray::{concatenate, ArrayView2, Axis};
use std::path::Path;
use std::time::Instant;

/// `(mean NLL, accuracy)` of `head` on `x` `[N,D]`.
fn score(head: &HeadModel, x: ArrayView2<f32>, labels: &[u32]) -> (f64, f64) {
    let b = nll_sums(head.log_proba(x).view(), labels, None);
    (
        b.mean() as f64,
        b.correct as f64 / labels.len().max(1) as f64,
    )
}

pub fn train_logistic(
    out: &Path,
    plan: &Plan,
    config: &RunConfig,
    data: &HeadData,
) -> anyhow::Result<()> {
    let c = plan.logistic;
    println!(
        "logistic: alpha {}, at most {} L-BFGS iterations, gradient tolerance {}, on all {} views of each train image",
        c.alpha,
        c.max_iterations,
        c.gradient_tolerance,
        data.passes.len()
    );
    let start = Instant::now();
    let views: Vec<ArrayView2<f32>> = data.passes.iter().map(|p| p.view()).collect();
    let x = concatenate(Axis(0), &views)?;
    let y: Vec<u32> = data
        .labels
        .iter()
        .copied()
        .cycle()
        .take(x.nrows())
        .collect();
    let head = HeadModel::Logistic(fit_logistic(x.view(), &y, config.classes.len(), &c)?);
    let seconds = start.elapsed().as_secs_f64();
    let (train_loss, train_acc) = score(&head, x.view(), &y);
    let (valid_loss, valid_acc) = score(&head, data.valid_x.view(), &data.valid_labels);
    let rec = EpochRecord {
        epoch: 1,
        train_loss,
        train_acc,
        valid_loss,
        valid_acc,
        seconds,
        improved: true,
    };
    println!("{}", format_line(&rec, 1));
    let meta = HeadMeta {
        classes: config.classes.clone(),
        feature_dim: config.feature_dim,
        cache_key: config.cache_key.clone(),
        best_epoch: 0,
    };
    ckpt::write_head(out, &head, &meta)?;
    ckpt::write_history(out, std::slice::from_ref(&rec))?;
    let metrics = RunMetrics {
        head: HeadKind::Logistic,
        best_epoch: 0,
        epochs_run: 1,
        stopped_early: false,
        best_valid_loss: valid_loss,
        best_valid_acc: valid_acc,
        train_seconds: seconds,
        num_params: head.num_params(),
    };
    ckpt::write_json(&out.join(ckpt::METRICS_FILE), &metrics)?;
    println!(
        "logistic head: valid loss {valid_loss:.4}, acc {:.1}%; {} ; {seconds:.2} s",
        100.0 * valid_acc,
        out.join(ckpt::HEAD_FILE).display()
    );
    Ok(())
}
