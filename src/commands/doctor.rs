//! `pipeline doctor`: what this binary finds where it runs — the binary and where it is installed,
//! every place ONNX Runtime was looked for and the one loaded (version, providers), the model
//! store and the models in it, the Python that builds models, and the default backbone.
//! Fails (exit 1, after printing the rest) when ONNX Runtime cannot be loaded.

use crate::backbone::ort_lib;
use crate::install::store::{self, Store};
use crate::install::{ort_search, python, Layout};
use crate::output::print_stdout;
use std::fmt::Write;
use std::path::PathBuf;

/// Arguments of `pipeline doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// ONNX Runtime library [default: the search order of `pipeline doctor`'s ONNX Runtime lines].
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
}

/// Runs `pipeline doctor`.
pub fn run(a: DoctorArgs) -> anyhow::Result<()> {
    let layout = Layout::current();
    let mut out = String::new();
    let exe = std::env::current_exe().map_or("unknown".into(), |p| p.display().to_string());
    let _ = writeln!(out, "pipeline {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "binary        {exe}");
    let _ = writeln!(out, "installed in  {}", installed_in(&layout));
    let env_var = std::env::var_os("ORT_DYLIB_PATH")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let search = ort_search::search(a.ort_lib.as_deref(), env_var, &layout);
    let _ = writeln!(out, "ONNX Runtime, looked at in order:");
    for (i, l) in search.looked.iter().enumerate() {
        let what = match (&l.found, &l.note) {
            (Some(_), _) => "found".to_string(),
            (None, Some(n)) => n.clone(),
            (None, None) => "missing".to_string(),
        };
        let _ = writeln!(
            out,
            "  {}. {:<52} {}  [{what}]",
            i + 1,
            l.source.describe(),
            l.place
        );
    }
    let loaded = ort_lib::init(a.ort_lib.as_deref());
    match &loaded {
        Ok(info) => {
            let providers = info
                .providers()
                .map(|p| p.join(", "))
                .unwrap_or_else(|e| e.to_string());
            let _ = writeln!(
                out,
                "ONNX Runtime  {} at {} ({})",
                info.version,
                info.path.display(),
                info.source.describe()
            );
            let _ = writeln!(out, "providers     {providers}");
        }
        Err(e) => {
            let _ = writeln!(out, "ONNX Runtime  NOT LOADED: {e}");
        }
    }
    models(&mut out, &layout);
    let py = python::current(None);
    let modules = match python::check_modules(&py.path, &python::BUILD_MODULES) {
        Ok(()) => format!("has {}", python::BUILD_MODULES.join(", ")),
        Err(e) => e,
    };
    let _ = writeln!(
        out,
        "python        {} ({}): {modules}",
        py.path.display(),
        py.why
    );
    print_stdout(&out)?;
    loaded?;
    Ok(())
}

fn installed_in(layout: &Layout) -> String {
    match (&layout.env, &layout.clone) {
        (Some(env), _) => format!(
            "Python environment {} (python {})",
            env.prefix.display(),
            env.python
                .as_ref()
                .map_or("none".into(), |p| p.display().to_string())
        ),
        (None, Some(root)) => format!("clone {} (built by cargo)", root.display()),
        (None, None) => "a folder that is neither a clone nor a Python environment".into(),
    }
}

fn models(out: &mut String, layout: &Layout) {
    let local = PathBuf::from(crate::commands::run::DEFAULT_MODEL);
    let store = match Store::current() {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(out, "model store   {e}");
            return;
        }
    };
    let _ = writeln!(
        out,
        "model store   {} ({})",
        store.root.display(),
        store.why
    );
    let built: Vec<String> = store
        .list()
        .into_iter()
        .filter_map(|e| {
            let mb = |b: u64| format!("{:.1} MB", b as f64 / 1e6);
            let b = e.bytes?;
            Some(match e.int8_bytes {
                Some(i) => format!("{} ({}, int8 {})", e.name, mb(b), mb(i)),
                None => format!("{} ({})", e.name, mb(b)),
            })
        })
        .collect();
    let _ = writeln!(
        out,
        "models        {}",
        if built.is_empty() {
            "none built yet (`pipeline models list`)".to_string()
        } else {
            built.join(", ")
        }
    );
    let default = if local.is_file() {
        format!("{} (this folder)", local.display())
    } else if layout.clone.is_some() || layout.cwd_clone().is_some() {
        format!(
            "{} (missing; `{}`)",
            local.display(),
            crate::commands::run::DEFAULT_MODEL_RECIPE
        )
    } else {
        let e = store.entry(store::DEFAULT_NAME);
        let state = if e.bytes.is_some() {
            "built"
        } else {
            "built on first `pipeline run`"
        };
        format!("{} ({state})", e.model.display())
    };
    let _ = writeln!(out, "default model {default}");
}
