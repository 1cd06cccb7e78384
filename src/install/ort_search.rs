//! Where ONNX Runtime's shared library is looked for, in this fixed order (the first found is
//! used; `--ort-lib` and `ORT_DYLIB_PATH`, when given, are the only place looked at):
//!
//! 1. `--ort-lib PATH`; 2. `ORT_DYLIB_PATH`;
//! 3. `libonnxruntime.so` beside the executable (`just gpu-parts` puts it there);
//! 4. the clone's `.ort/{gpu,cpu}/` (`just fetch-ort`): the clone the executable was built in,
//!    then the working directory;
//! 5. the `onnxruntime` package of the Python environment the executable is installed in:
//!    `<prefix>/lib*/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*`;
//! 6. that environment's own `python`, asked where `onnxruntime` is.
//!
//! Searching never loads anything; [`crate::backbone::ort_lib`] loads and version-checks the
//! library found.

use super::{python_lib_dirs, Layout};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Oldest ONNX Runtime the binary drives, as a pip requirement (`ort`'s `api-26`).
pub const PIP_REQUIREMENT: &str = "onnxruntime>=1.26";

/// Which rule of the search order a place belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Flag,
    EnvVar,
    BesideExe,
    Clone,
    EnvPackage,
    EnvPython,
}

impl Source {
    /// Short words for the source, as `doctor` and errors print them.
    pub fn describe(self) -> &'static str {
        match self {
            Source::Flag => "--ort-lib",
            Source::EnvVar => "ORT_DYLIB_PATH",
            Source::BesideExe => "beside the executable",
            Source::Clone => ".ort/ of the clone or working folder",
            Source::EnvPackage => "the onnxruntime package of the install environment",
            Source::EnvPython => "the install environment's python",
        }
    }
}

/// One place looked at and what was there.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Looked {
    pub source: Source,
    /// The path or pattern looked at, or the command asked.
    pub place: String,
    /// The library file found there.
    pub found: Option<PathBuf>,
    /// Why nothing was found, when there is more to say than "missing".
    pub note: Option<String>,
}

/// Every place looked at, in order; the last one holds the library when it was found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Search {
    pub looked: Vec<Looked>,
}

impl Search {
    /// The library found and the rule that found it.
    pub fn found(&self) -> Option<(&Path, Source)> {
        self.looked
            .iter()
            .find_map(|l| l.found.as_deref().map(|p| (p, l.source)))
    }

    /// `place (note), place, …` for an error message.
    pub fn tried(&self) -> String {
        let items: Vec<String> = self
            .looked
            .iter()
            .map(|l| match &l.note {
                Some(n) => format!("{} ({n})", l.place),
                None => l.place.clone(),
            })
            .collect();
        items.join(", ")
    }
}

/// Runs the search order of the module doc; stops at the first library found.
pub fn search(explicit: Option<&Path>, env_var: Option<PathBuf>, layout: &Layout) -> Search {
    let mut s = Search { looked: Vec::new() };
    if let Some(p) = explicit {
        s.looked.push(file(Source::Flag, p));
        return s;
    }
    if let Some(p) = env_var {
        s.looked.push(file(Source::EnvVar, &p));
        return s;
    }
    let name = library_file_name();
    let mut files: Vec<(Source, PathBuf)> = Vec::new();
    if let Some(exe) = &layout.exe_dir {
        files.push((Source::BesideExe, exe.join(&name)));
    }
    let clones = [layout.clone.clone(), layout.cwd.clone()];
    let mut seen = Vec::new();
    for root in clones.into_iter().flatten() {
        if seen.contains(&root) {
            continue;
        }
        for variant in ["gpu", "cpu"] {
            files.push((Source::Clone, root.join(".ort").join(variant).join(&name)));
        }
        seen.push(root);
    }
    for (source, path) in files {
        let looked = file(source, &path);
        let hit = looked.found.is_some();
        s.looked.push(looked);
        if hit {
            return s;
        }
    }
    let Some(env) = &layout.env else {
        return s;
    };
    let looked = env_package(&env.prefix);
    let hit = looked.found.is_some();
    s.looked.push(looked);
    if hit {
        return s;
    }
    if let Some(py) = &env.python {
        s.looked.push(ask_python(py));
    }
    s
}

/// The one command that puts a usable ONNX Runtime where this layout looks first.
pub fn fix(layout: &Layout) -> String {
    if let Some(py) = layout.env.as_ref().and_then(|e| e.python.as_ref()) {
        return format!("run `{} -m pip install '{PIP_REQUIREMENT}'`", py.display());
    }
    if layout.clone.is_some() || layout.cwd_clone().is_some() {
        return "run `just fetch-ort` (scripts/fetch_ort.sh; add --gpu for CUDA), or pass --ort-lib PATH / set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.26 or newer".into();
    }
    format!(
        "run `python3 -m pip install '{PIP_REQUIREMENT}'` and set ORT_DYLIB_PATH to the libonnxruntime.so.* in its onnxruntime/capi/ folder"
    )
}

fn file(source: Source, path: &Path) -> Looked {
    let found = path.is_file().then(|| path.to_path_buf());
    Looked {
        source,
        place: path.display().to_string(),
        note: found.is_none().then(|| "missing".to_string()),
        found,
    }
}

/// Step 5: the `onnxruntime` package under the environment's `lib*/python3*/site-packages`.
fn env_package(prefix: &Path) -> Looked {
    let place = prefix
        .join("lib/python3.*/site-packages/onnxruntime/capi/libonnxruntime.so*")
        .display()
        .to_string();
    let found = python_lib_dirs(prefix)
        .into_iter()
        .find_map(|site| library_in(&site.join("onnxruntime/capi")));
    Looked {
        source: Source::EnvPackage,
        place,
        note: found
            .is_none()
            .then(|| "no onnxruntime package".to_string()),
        found,
    }
}

/// Step 6: asks `python` where `onnxruntime` is and looks in its `capi/`.
fn ask_python(python: &Path) -> Looked {
    const CODE: &str = "import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))";
    let place = format!("{} -c 'import onnxruntime'", python.display());
    let (found, note) = match Command::new(python).args(["-c", CODE]).output() {
        Err(e) => (None, format!("cannot start it: {e}")),
        Ok(o) if !o.status.success() => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().last().unwrap_or("failed").trim().to_string();
            (None, last)
        }
        Ok(o) => {
            let dir = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            match library_in(&dir.join("capi")) {
                Some(p) => (Some(p), String::new()),
                None => (
                    None,
                    format!("no libonnxruntime in {}", dir.join("capi").display()),
                ),
            }
        }
    };
    Looked {
        source: Source::EnvPython,
        place,
        note: found.is_none().then_some(note),
        found,
    }
}

/// `libonnxruntime.so` in `dir`, else the last `libonnxruntime.so.*` by name (the wheel ships
/// only the versioned file); provider libraries are not candidates.
pub fn library_in(dir: &Path) -> Option<PathBuf> {
    let name = library_file_name();
    if dir.join(&name).is_file() {
        return Some(dir.join(&name));
    }
    let mut versioned: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{name}.")))
        })
        .collect();
    versioned.sort();
    versioned.pop()
}

/// `libonnxruntime.so` (`.dylib` on macOS).
pub fn library_file_name() -> String {
    format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

#[cfg(test)]
mod tests;
