//! Per-epoch training history: one record per epoch, saved as JSON and CSV.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// What one epoch did. Losses are the (class-weighted) mean NLL; accuracies are fractions in
/// `[0,1]`; train figures are measured in train mode (dropout on), valid ones in eval mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: u32,
    pub train_loss: f64,
    pub train_acc: f64,
    pub valid_loss: f64,
    pub valid_acc: f64,
    /// Wall-clock seconds for the epoch's training and validation.
    pub seconds: f64,
    /// Whether this epoch set a new best validation loss.
    pub improved: bool,
}

/// The CSV header matching [`write_csv`]'s rows.
pub const CSV_HEADER: &str = "epoch,train_loss,train_acc,valid_loss,valid_acc,seconds,improved";

/// Writes the history as CSV with [`CSV_HEADER`].
pub fn write_csv(path: &Path, history: &[EpochRecord]) -> std::io::Result<()> {
    let mut out = Vec::new();
    writeln!(out, "{CSV_HEADER}")?;
    for r in history {
        writeln!(
            out,
            "{},{},{},{},{},{:.4},{}",
            r.epoch, r.train_loss, r.train_acc, r.valid_loss, r.valid_acc, r.seconds, r.improved
        )?;
    }
    crate::atomic::write_file(path, &out)
}

/// One line for the terminal, e.g.
/// `epoch  3/30  train loss 1.2345 acc  56.7%  valid loss 1.1111 acc  60.2%  0.12 s *`.
pub fn format_line(r: &EpochRecord, max_epochs: u32) -> String {
    format!(
        "epoch {:>3}/{}  train loss {:.4} acc {:5.1}%  valid loss {:.4} acc {:5.1}%  {:.2} s{}",
        r.epoch,
        max_epochs,
        r.train_loss,
        100.0 * r.train_acc,
        r.valid_loss,
        100.0 * r.valid_acc,
        r.seconds,
        if r.improved { " *" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_one_row_per_epoch() {
        let r = EpochRecord {
            epoch: 1,
            train_loss: 0.5,
            train_acc: 0.25,
            valid_loss: 0.75,
            valid_acc: 0.5,
            seconds: 0.01,
            improved: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("h.csv");
        write_csv(
            &p,
            &[
                r.clone(),
                EpochRecord {
                    epoch: 2,
                    improved: false,
                    ..r.clone()
                },
            ],
        )
        .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines[1], "1,0.5,0.25,0.75,0.5,0.0100,true");
        assert_eq!(lines.len(), 3);
        assert!(format_line(&r, 30).ends_with(" *"));
    }
}
