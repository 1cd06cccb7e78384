//! The run's novelty score ([`crate::novelty`]): fitted on the train and valid images' mean
//! features after the head, written before `metrics.json` so its hash is recorded.

use crate::head::data::HeadData;
use crate::novelty::{Novelty, DEFAULT_K};
use ndarray::concatenate;
use ndarray::Axis;
use std::path::Path;

/// Fits the novelty score on train+valid, writes it into `out` and says how it was calibrated.
pub fn fit_and_write(out: &Path, data: &HeadData, cache_key: &str) -> anyhow::Result<()> {
    // The train split's first row sets are its deterministic views, in valid's order.
    let views = data.views.len().clamp(1, data.passes.len());
    let train = crate::cache::rows::mean_of_rows(&data.passes[..views]);
    let x = concatenate(Axis(0), &[train.view(), data.valid_x.view()])?;
    let n = match Novelty::fit(x.view(), DEFAULT_K) {
        Ok(n) => n,
        Err(e) => {
            crate::say!("novelty: not calibrated ({e}); predict will not flag unknown photos");
            return Ok(());
        }
    };
    crate::novelty::write(out, &n, cache_key)?;
    let c = &n.calibration;
    crate::say!(
        "novelty: photos scoring above {:.4} are flagged unknown ({} of {} train+valid images, each left out in turn, are above it; target at most {:.0} %){}",
        n.threshold,
        c.flagged,
        c.images,
        100.0 * c.target_rate,
        if c.images < c.available {
            format!("; {} of the {} images kept as reference", c.images, c.available)
        } else {
            String::new()
        }
    );
    Ok(())
}
