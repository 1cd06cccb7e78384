//! A `--run` that names no directory (a typo, a run not trained yet): the error says so and
//! lists the runs that do exist near it, instead of reporting a missing file of a run that is
//! not there.

use super::{CheckpointError, HEAD_FILE};
use std::path::{Path, PathBuf};

/// Runs listed at most.
const MAX_LISTED: usize = 8;

/// Ancestors of a missing run directory searched for the nearest existing folder.
const MAX_UP: usize = 3;

/// `Some(error)` when `dir` does not exist or is not a directory; `None` when it is one.
pub(super) fn check_run_dir(dir: &Path) -> Option<CheckpointError> {
    if dir.is_dir() {
        return None;
    }
    let not_dir = dir.exists();
    let runs = runs_near(dir);
    let nearby = if runs.is_empty() {
        "no trained run was found near it; train one with `pipeline train-head --out DIR` or `pipeline run`".to_string()
    } else {
        let list: Vec<String> = runs.iter().map(|p| p.display().to_string()).collect();
        format!("runs that exist nearby: {}", list.join(", "))
    };
    Some(CheckpointError::NoRunDir {
        dir: dir.to_path_buf(),
        what: if not_dir {
            "is not a directory"
        } else {
            "does not exist"
        },
        nearby,
    })
}

/// Whether `dir` holds a run (its head file).
fn holds_run(dir: &Path) -> bool {
    dir.join(HEAD_FILE).is_file()
}

/// Sub-folders of `dir` that hold a run, sorted.
fn runs_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| holds_run(p))
        .collect();
    out.sort();
    out
}

/// The runs near a missing `dir`: from its nearest existing ancestor `A` (at most [`MAX_UP`]
/// levels up), the runs in `A`, `A/runs/` and `A/*/runs/` (a work directory's layout), at most
/// [`MAX_LISTED`].
fn runs_near(dir: &Path) -> Vec<PathBuf> {
    let Some(base) = dir
        .ancestors()
        .skip(1)
        .take(MAX_UP)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.is_dir())
    else {
        return Vec::new();
    };
    let mut found = runs_in(base);
    found.extend(runs_in(&base.join("runs")));
    let mut subs: Vec<PathBuf> = std::fs::read_dir(base)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("runs"))
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    for s in subs {
        if found.len() >= MAX_LISTED {
            break;
        }
        found.extend(runs_in(&s));
    }
    found.dedup();
    found.truncate(MAX_LISTED);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_at(p: &Path) {
        std::fs::create_dir_all(p).unwrap();
        std::fs::write(p.join(HEAD_FILE), b"x").unwrap();
    }

    #[test]
    fn lists_sibling_runs_and_work_directory_runs() {
        let t = tempfile::tempdir().unwrap();
        let runs = t.path().join("work/photo/runs");
        run_at(&runs.join("auto"));
        run_at(&runs.join("mlp"));
        std::fs::create_dir_all(runs.join("empty")).unwrap();
        let typo = runs.join("autoo");
        assert_eq!(runs_near(&typo), vec![runs.join("auto"), runs.join("mlp")]);
        let wrong_parent = t.path().join("work/photo/run/auto");
        assert_eq!(
            runs_near(&wrong_parent),
            vec![runs.join("auto"), runs.join("mlp")]
        );
        let wrong_data = t.path().join("work/phto/runs/auto");
        assert_eq!(
            runs_near(&wrong_data),
            vec![runs.join("auto"), runs.join("mlp")]
        );
        assert!(check_run_dir(&runs.join("auto")).is_none());
        let msg = check_run_dir(&typo).unwrap().to_string();
        assert!(
            msg.contains("does not exist") && msg.contains("runs/mlp"),
            "{msg}"
        );
    }

    #[test]
    fn says_when_no_run_is_near() {
        let t = tempfile::tempdir().unwrap();
        let msg = check_run_dir(&t.path().join("a/b/c/d"))
            .unwrap()
            .to_string();
        assert!(msg.contains("no trained run was found"), "{msg}");
        std::fs::write(t.path().join("f"), b"").unwrap();
        let msg = check_run_dir(&t.path().join("f")).unwrap().to_string();
        assert!(msg.contains("is not a directory"), "{msg}");
    }
}
