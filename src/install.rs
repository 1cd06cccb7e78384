//! Where this program runs from and what it finds there: a clone (`target/<profile>/pipeline`
//! or a working directory holding `Cargo.toml`) or a Python environment (`<prefix>/bin/pipeline`
//! installed from the wheel), the Python that builds models, ONNX Runtime's search order
//! ([`ort_search`]) and the per-user model store ([`store`]).

pub mod ort_search;
pub mod python;
pub mod store;

use std::path::{Path, PathBuf};

/// The places this process was started from; every field is optional so tests can lay out
/// fake trees in temporary folders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Folder of the running executable.
    pub exe_dir: Option<PathBuf>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// Root of the clone the executable was built in (`<root>/target/<profile>/…` beside
    /// `<root>/Cargo.toml`), if any.
    pub clone: Option<PathBuf>,
    /// The Python environment the executable is installed in (`<prefix>/bin/pipeline`), if any.
    pub env: Option<PyEnv>,
}

/// A Python environment (venv, `pip install --user`, conda, system prefix) holding the binary.
#[derive(Debug, Clone, PartialEq)]
pub struct PyEnv {
    /// `<prefix>`: the folder above `bin/`.
    pub prefix: PathBuf,
    /// `<prefix>/bin/python3` (or `python`) when the environment has its own interpreter.
    pub python: Option<PathBuf>,
}

impl Layout {
    /// The layout of this process (executable path resolved through symlinks).
    pub fn current() -> Layout {
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.canonicalize().ok().or(Some(p)))
            .and_then(|p| p.parent().map(Path::to_path_buf));
        Layout::from_dirs(exe_dir, std::env::current_dir().ok())
    }

    /// The layout implied by an executable folder and a working directory (reads the disk).
    pub fn from_dirs(exe_dir: Option<PathBuf>, cwd: Option<PathBuf>) -> Layout {
        let clone = exe_dir.as_deref().and_then(clone_of_exe);
        let env = exe_dir.as_deref().and_then(env_of_exe);
        Layout {
            exe_dir,
            cwd,
            clone,
            env,
        }
    }

    /// The working directory when it is the root of a clone of this project (it holds
    /// `Cargo.toml` and `scripts/make_vgg16_conv.py`).
    pub fn cwd_clone(&self) -> Option<&Path> {
        self.cwd.as_deref().filter(|d| is_clone_root(d))
    }
}

fn is_clone_root(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file() && dir.join("scripts/make_vgg16_conv.py").is_file()
}

/// `<root>` for `<root>/target/<profile>/pipeline` and `<root>/target/<profile>/deps/<test>`.
fn clone_of_exe(exe_dir: &Path) -> Option<PathBuf> {
    exe_dir
        .ancestors()
        .skip(1)
        .take(3)
        .find(|d| d.file_name().is_some_and(|n| n == "target"))
        .and_then(Path::parent)
        .filter(|root| root.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
}

/// The environment of `<prefix>/bin/pipeline`: `bin/` with `<prefix>/pyvenv.cfg` or
/// `<prefix>/lib*/python3*/` beside it.
fn env_of_exe(exe_dir: &Path) -> Option<PyEnv> {
    if exe_dir.file_name()? != "bin" {
        return None;
    }
    let prefix = exe_dir.parent()?.to_path_buf();
    let is_env = prefix.join("pyvenv.cfg").is_file() || !python_lib_dirs(&prefix).is_empty();
    if !is_env {
        return None;
    }
    let python = ["python3", "python"]
        .iter()
        .map(|n| exe_dir.join(n))
        .find(|p| p.is_file());
    Some(PyEnv { prefix, python })
}

/// `<prefix>/lib/python3.X/site-packages` (and `lib64/`), sorted.
pub fn python_lib_dirs(prefix: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let site = e.path().join("site-packages");
            if name.starts_with("python3") && site.is_dir() {
                out.push(site);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_venv_bin_is_an_environment_and_not_a_clone() {
        let t = tempfile::tempdir().unwrap();
        let venv = t.path().join("venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::create_dir_all(venv.join("lib/python3.11/site-packages")).unwrap();
        std::fs::write(venv.join("bin/python3"), "").unwrap();
        let l = Layout::from_dirs(Some(venv.join("bin")), None);
        assert_eq!(l.clone, None);
        let env = l.env.unwrap();
        assert_eq!(env.prefix, venv);
        assert_eq!(env.python, Some(venv.join("bin/python3")));
    }

    #[test]
    fn a_target_profile_folder_is_a_clone() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::create_dir_all(root.join("target/debug/deps")).unwrap();
        std::fs::write(root.join("Cargo.toml"), "").unwrap();
        let l = Layout::from_dirs(Some(root.join("target/debug")), None);
        assert_eq!(l.clone.as_deref(), Some(root));
        assert_eq!(l.env, None);
        let l = Layout::from_dirs(Some(root.join("target/debug/deps")), None);
        assert_eq!(l.clone.as_deref(), Some(root));
    }

    #[test]
    fn a_bare_bin_folder_is_neither() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("bin")).unwrap();
        let l = Layout::from_dirs(Some(t.path().join("bin")), Some(t.path().into()));
        assert_eq!((l.clone, l.env), (None, None));
        assert!(Layout::from_dirs(None, Some(t.path().into()))
            .cwd_clone()
            .is_none());
    }
}
