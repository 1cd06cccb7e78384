//! The "none of these" flag of `predict`: each photo's novelty against the run's calibrated
//! threshold ([`crate::novelty`]), or nothing for a run made before runs carried one.

use crate::checkpoint::TrainedRun;
use crate::novelty::Novelty;
use anyhow::Result;
use ndarray::ArrayView2;

/// The CSV header, with the novelty columns (empty for a run without a novelty score).
pub const CSV_HEADER: &str = "path,rank,class,probability,unknown,novelty";

/// A photo's novelty (higher = less like the training photos) and whether it is above the
/// threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flag {
    pub novelty: f32,
    pub unknown: bool,
}

/// The run's novelty score, hash- and shape-checked; `None` (said once on stderr) when the run
/// has none.
pub fn load(run: &TrainedRun) -> Result<Option<Novelty>> {
    let n = crate::novelty::load_for(run)?;
    if n.is_none() {
        eprintln!(
            "note: run {} has no {} (trained by an older build): photos are not checked against the training photos; retrain it to flag unknown ones",
            run.dir.display(),
            crate::novelty::NOVELTY_FILE
        );
    }
    Ok(n)
}

/// One flag per row of `x` `[N, D]` (the head's input before normalisation), or `None`s.
pub fn flags(novelty: Option<&Novelty>, x: ArrayView2<f32>) -> Vec<Option<Flag>> {
    match novelty {
        Some(n) => n
            .scores(x)
            .into_iter()
            .map(|s| {
                Some(Flag {
                    novelty: s,
                    unknown: n.is_unknown(s),
                })
            })
            .collect(),
        None => vec![None; x.nrows()],
    }
}

/// `, K flagged unknown (novelty above T)` for the closing line, or nothing without a score.
pub fn summary(threshold: Option<f32>, unknown: usize) -> String {
    threshold.map_or(String::new(), |t| {
        format!(", {unknown} flagged unknown (novelty above {t:.4})")
    })
}
