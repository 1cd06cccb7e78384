//! Report section about training the head: the head's own hyper-parameters (MLP: its layers,
//! Adam, epochs and curves; logistic: the C grid, the chosen C and its L-BFGS iterations) and,
//! when model selection ran, one point per trial.

use super::evaluation::s;
use super::html::{facts, figure, table, Cell};
use super::{missing, svg, Workdir};
use serde_json::Value;
use std::fmt::Write as _;

/// The training section.
pub fn training(w: &Workdir) -> String {
    let Some(run) = &w.trained else {
        return missing(
            "trained run (runs/<head>/config.json)",
            "run `pipeline train-head` or `pipeline run`",
        );
    };
    let c = &run.config;
    let head = s(&c["head"]);
    let trials = c["selection"]["trials"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let winner = c["selection"]["winner"].as_u64().map(|i| i as usize);
    let mut f = vec![
        ("run", run.dir.display().to_string()),
        ("head", head.clone()),
        ("seed", s(&c["seed"])),
        (
            "train / valid images",
            format!("{} / {}", s(&c["train_images"]), s(&c["valid_images"])),
        ),
        ("rows per train image (views and passes)", s(&c["passes"])),
        ("class weights", s(&c["class_weights"])),
    ];
    if let Some(k) = c["selection"]["folds"].as_u64().filter(|&k| k >= 2) {
        f.push((
            "selection scored on",
            format!("{k}-fold over train+valid (each image held out once; the valid columns below are these scores), the winner fitted on all of train+valid"),
        ));
    }
    if head.starts_with("mlp") {
        mlp_facts(c, &mut f);
    } else {
        logistic_facts(c, &trials, winner, &mut f);
    }
    if let Some(rm) = &w.run_metrics {
        if head.starts_with("mlp") {
            f.push(("best epoch", best_epoch(rm, trials.is_empty())));
        }
        f.push((
            "best valid loss / accuracy",
            format!(
                "{:.4} / {:.2} %{}",
                rm["best_valid_loss"].as_f64().unwrap_or(f64::NAN),
                rm["best_valid_acc"].as_f64().unwrap_or(f64::NAN) * 100.0,
                if c["selection"]["refitted"] == true {
                    " (before the refit on train+valid)"
                } else {
                    ""
                }
            ),
        ));
        f.push((
            "training time",
            format!("{:.2} s", rm["train_seconds"].as_f64().unwrap_or(0.0)),
        ));
    }
    let mut o = facts(&f);
    if trials.is_empty() {
        o += &epoch_curves(w, run.best_epoch);
    } else {
        o += &trial_plot(&trials, winner);
    }
    o
}

/// The MLP's own settings (hidden units, dropouts, batch, epochs, patience, Adam).
fn mlp_facts(c: &Value, f: &mut Vec<(&'static str, String)>) {
    let m = &c["mlp"];
    f.push(("preset", s(&c["preset"])));
    for k in [
        "hidden",
        "dropout",
        "feature_dropout",
        "batch",
        "max_epochs",
        "patience",
        "pass_mode",
    ] {
        f.push((k, s(&m[k])));
    }
    f.push(("adam", s(&m["adam"])));
}

/// The logistic head's settings: the C grid tried, the chosen C, its iterations, the refit.
fn logistic_facts(
    c: &Value,
    trials: &[Value],
    winner: Option<usize>,
    f: &mut Vec<(&'static str, String)>,
) {
    let grid: Vec<String> = trials
        .iter()
        .filter(|t| t["head"] == "logistic")
        .map(|t| s(&t["setting"]))
        .collect();
    if !grid.is_empty() {
        f.push(("C grid", grid.join(", ")));
    }
    if let Some(t) = winner.and_then(|i| trials.get(i)) {
        f.push(("chosen C", s(&t["setting"])));
        f.push((
            "L-BFGS iterations",
            format!(
                "{} of at most {}{}",
                s(&t["iterations"]),
                s(&c["logistic"]["max_iterations"]),
                if t["converged"] == false {
                    " (hit the cap)"
                } else {
                    " (converged)"
                }
            ),
        ));
    }
    f.push((
        "refit on train+valid",
        if c["selection"]["refitted"] == true {
            "yes".into()
        } else {
            "no".into()
        },
    ));
}

/// "7 of 15 run (stopped early…)" for an MLP trained alone; the epoch alone after selection.
fn best_epoch(rm: &Value, alone: bool) -> String {
    if !alone {
        return s(&rm["best_epoch"]);
    }
    format!(
        "{} of {} run{}",
        s(&rm["best_epoch"]),
        s(&rm["epochs_run"]),
        if rm["stopped_early"] == true {
            " (stopped early; best weights restored)"
        } else {
            ""
        }
    )
}

/// Loss and accuracy per epoch of an MLP trained alone, the best epoch dashed.
fn epoch_curves(w: &Workdir, best_epoch: u32) -> String {
    let hist = w
        .history
        .as_ref()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if hist.is_empty() {
        return "<p class=\"note\">No per-epoch history.</p>".into();
    }
    let series = |k: &str, scale: f64| -> Vec<(f64, f64)> {
        hist.iter()
            .map(|r| {
                (
                    r["epoch"].as_f64().unwrap_or(0.0),
                    r[k].as_f64().unwrap_or(f64::NAN) * scale,
                )
            })
            .collect()
    };
    let best = (best_epoch > 0).then_some(f64::from(best_epoch));
    let pair = |a: &str, b: &str, scale: f64| {
        vec![
            ("train".to_string(), series(a, scale)),
            ("valid".to_string(), series(b, scale)),
        ]
    };
    let loss = svg::lines(
        &pair("train_loss", "valid_loss", 1.0),
        "epoch",
        "NLL loss",
        best,
    );
    let acc = svg::lines(
        &pair("train_acc", "valid_acc", 100.0),
        "epoch",
        "accuracy %",
        best,
    );
    format!(
        "<div class=\"row\">{}{}</div>",
        figure(
            &loss,
            "Loss per epoch (train with dropout on, valid in eval mode); dashed: best epoch."
        ),
        figure(&acc, "Accuracy per epoch.")
    )
}

/// What one trial tried, in words: `C = 31.6`, `best epoch 7`, `5 MLPs`.
fn setting(t: &Value) -> String {
    match t["head"].as_str() {
        Some("logistic") => format!("C = {}", s(&t["setting"])),
        Some("mlp-ensemble") => {
            format!("{} MLPs", t["member_epochs"].as_array().map_or(0, Vec::len))
        }
        _ => format!("best epoch {}", s(&t["setting"])),
    }
}

/// Validation loss and top-1 of every selection trial (x: the trial, in the order tried), the
/// chosen one dashed, and the trials as a table.
fn trial_plot(trials: &[Value], winner: Option<usize>) -> String {
    let series = |k: &str, scale: f64| -> Vec<(String, Vec<(f64, f64)>)> {
        let pts = trials
            .iter()
            .enumerate()
            .map(|(i, t)| ((i + 1) as f64, t[k].as_f64().unwrap_or(f64::NAN) * scale))
            .collect();
        vec![("valid".to_string(), pts)]
    };
    let mark = winner.map(|i| (i + 1) as f64);
    let loss = svg::lines(&series("valid_nll", 1.0), "trial", "valid NLL", mark);
    let acc = svg::lines(&series("valid_top1", 100.0), "trial", "valid top-1 %", mark);
    let rows = trials
        .iter()
        .enumerate()
        .map(|(i, t)| {
            vec![
                Cell::int(i + 1),
                Cell::text(format!(
                    "{} ({}){}",
                    s(&t["head"]),
                    setting(t),
                    if Some(i) == winner { ", chosen" } else { "" }
                )),
                Cell::pct(t["valid_top1"].as_f64().unwrap_or(f64::NAN)),
                Cell::num(
                    t["valid_nll"].as_f64().unwrap_or(f64::NAN),
                    format!("{:.4}", t["valid_nll"].as_f64().unwrap_or(f64::NAN)),
                ),
                Cell::text(s(&t["iterations"])),
                Cell::num(
                    t["seconds"].as_f64().unwrap_or(0.0),
                    format!("{:.2} s", t["seconds"].as_f64().unwrap_or(0.0)),
                ),
            ]
        })
        .collect();
    let mut o = String::new();
    let _ = write!(
        o,
        "<div class=\"row\">{}{}</div>{}",
        figure(
            &loss,
            "Validation loss of each model-selection trial, in the order tried (x: the trial); dashed: the chosen trial."
        ),
        figure(&acc, "Validation top-1 of each trial."),
        table(
            &[
                "trial",
                "candidate",
                "valid top-1",
                "valid NLL",
                "iterations / epochs",
                "time"
            ],
            rows,
            false
        )
    );
    o
}
