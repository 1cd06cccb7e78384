//! A new run that fails leaves no half run: what `train-head` wrote into a fresh `--out` is
//! removed again, unless it is a checkpoint worth resuming.

use super::options::RUN_FILES;
use crate::checkpoint as ckpt;
use crate::head::fit::FitError;
use std::path::{Path, PathBuf};

/// A new run written straight into `out`: unless [`FreshRun::keep`] is called, dropping it
/// removes the run files written (a run that failed leaves no half run behind) and `out` itself
/// when this call created it. Kept: the checkpoint of a run that failed after an epoch for
/// another reason than diverging (a full disk), and the files of a killed process, to `--resume`.
pub struct FreshRun {
    out: PathBuf,
    created: bool,
    armed: bool,
}

impl FreshRun {
    /// `out` is ready and held no run; `created`: it did not exist before this call.
    pub fn new(out: &Path, created: bool) -> FreshRun {
        FreshRun {
            out: out.to_path_buf(),
            created,
            armed: true,
        }
    }

    /// The run completed: keep it.
    pub fn keep(mut self) {
        self.armed = false;
    }

    /// Training failed with `err`: a checkpoint that `--resume` can go on from is kept, unless
    /// the run diverged (resuming would replay the divergence; a lower --lr needs a new run).
    pub fn failed(&mut self, err: &anyhow::Error) {
        let diverged = err
            .chain()
            .any(|e| matches!(e.downcast_ref(), Some(FitError::Diverged { .. })));
        if !diverged && self.out.join(ckpt::OPTIMIZER_FILE).is_file() {
            self.armed = false;
        }
    }
}

impl Drop for FreshRun {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for f in RUN_FILES {
            let _ = std::fs::remove_file(self.out.join(f));
        }
        if self.created {
            let _ = std::fs::remove_file(self.out.join(crate::lock::LOCK_FILE));
            let _ = std::fs::remove_dir(&self.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::options::holds_run;
    use super::*;

    fn run_files(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for f in [ckpt::CONFIG_FILE, ckpt::HEAD_FILE, ckpt::OPTIMIZER_FILE] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
    }

    #[test]
    fn a_failed_fresh_run_keeps_only_a_checkpoint_that_did_not_diverge() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("run");
        let diverged = anyhow::Error::from(FitError::Diverged {
            epoch: 3,
            loss: f64::NAN,
            lr: 1.0,
        })
        .context("training");
        run_files(&out);
        let mut f = FreshRun::new(&out, true);
        f.failed(&diverged);
        drop(f);
        assert!(!out.exists(), "a diverged run was kept");
        run_files(&out);
        let mut f = FreshRun::new(&out, true);
        f.failed(&anyhow::anyhow!(
            "cannot write head.safetensors: File too large"
        ));
        drop(f);
        assert!(
            out.join(ckpt::OPTIMIZER_FILE).is_file(),
            "the checkpoint was lost"
        );
        std::fs::remove_file(out.join(ckpt::OPTIMIZER_FILE)).unwrap();
        let mut f = FreshRun::new(&out, false);
        f.failed(&anyhow::anyhow!("disk full"));
        drop(f);
        assert!(
            out.is_dir() && !holds_run(&out),
            "the folder existed before: it stays, empty"
        );
    }
}
