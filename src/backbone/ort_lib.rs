//! Finding and loading ONNX Runtime's shared library (`ort` with `load-dynamic`), once per process.
//!
//! Search order: `--ort-lib PATH`, then `ORT_DYLIB_PATH` (either one, when given, is the only
//! candidate), else `libonnxruntime.so` next to the executable, the project's `.ort/{gpu,cpu}/`
//! found from the executable (`target/<profile>/…`) and from the working directory.
//! The library is opened and its version checked before `ort` touches it, so a missing, foreign or
//! too-old library is a typed error, never a panic inside `ort`.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The fix printed with every "library missing/unusable" error.
pub const FETCH_HINT: &str =
    "run `scripts/fetch_ort.sh` (or `just fetch-ort`; add `--gpu` for CUDA), \
or pass --ort-lib PATH / set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.26 or newer";

/// Oldest ONNX Runtime `(major, minor)` this build can drive (`ort`'s `api-26` feature).
pub const MIN_VERSION: (u32, u32) = (1, ort::MINOR_VERSION);

/// The loaded ONNX Runtime: where it came from, its version and the process-wide environment.
pub struct OrtInfo {
    /// Absolute path of the library actually loaded.
    pub path: PathBuf,
    /// Version string reported by the library, e.g. `1.31.1`.
    pub version: String,
    env: ort::environment::Environment,
}

/// Why ONNX Runtime could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum OrtLibError {
    #[error("ONNX Runtime library not found (tried {tried}); fix: {FETCH_HINT}")]
    NotFound { tried: String },
    #[error("cannot load ONNX Runtime library {path}: {reason}; fix: {FETCH_HINT}")]
    Load { path: PathBuf, reason: String },
    #[error("{path} is not ONNX Runtime (no usable `OrtGetApiBase`); fix: {FETCH_HINT}")]
    NotOrt { path: PathBuf },
    #[error("ONNX Runtime at {path} is version {found}, this build needs {}.{} or newer; fix: {FETCH_HINT}", MIN_VERSION.0, MIN_VERSION.1)]
    TooOld { path: PathBuf, found: String },
    #[error("ONNX Runtime at {path} failed to start: {reason}; fix: {FETCH_HINT}")]
    Start { path: PathBuf, reason: String },
    #[error("ONNX Runtime query failed: {0}")]
    Query(String),
}

static INFO: OnceLock<OrtInfo> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// Loads ONNX Runtime once per process and returns it; later calls return the first result
/// whatever `explicit` they pass.
pub fn init(explicit: Option<&Path>) -> Result<&'static OrtInfo, OrtLibError> {
    if let Some(info) = INFO.get() {
        return Ok(info);
    }
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(info) = INFO.get() {
        return Ok(info);
    }
    let env_var = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty());
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let cwd = std::env::current_dir().ok();
    let candidates = candidates(explicit, env_var.map(PathBuf::from), exe_dir, cwd);
    let path = choose(&candidates)?;
    let info = load(&path)?;
    Ok(INFO.get_or_init(|| info))
}

/// The ONNX Runtime loaded earlier by [`init`], if any.
pub fn loaded() -> Option<&'static OrtInfo> {
    INFO.get()
}

/// Candidate library paths in search order; `named_by` is set when the user named the one path.
#[derive(Debug, PartialEq)]
pub struct Candidates {
    pub paths: Vec<PathBuf>,
    /// `Some("--ort-lib")` or `Some("ORT_DYLIB_PATH")` for a user-named path.
    pub named_by: Option<&'static str>,
}

/// Lists where to look for the library (pure; see the module doc for the order).
pub fn candidates(
    explicit: Option<&Path>,
    env_var: Option<PathBuf>,
    exe_dir: Option<PathBuf>,
    cwd: Option<PathBuf>,
) -> Candidates {
    if let Some(p) = explicit {
        return Candidates {
            paths: vec![p.to_path_buf()],
            named_by: Some("--ort-lib"),
        };
    }
    if let Some(p) = env_var {
        return Candidates {
            paths: vec![p],
            named_by: Some("ORT_DYLIB_PATH"),
        };
    }
    let name = library_file_name();
    let mut paths = Vec::new();
    if let Some(exe) = &exe_dir {
        paths.push(exe.join(&name));
        // target/<profile>/pipeline and target/<profile>/deps/<test binary>
        for up in [exe.join("../.."), exe.join("../../..")] {
            for variant in ["gpu", "cpu"] {
                paths.push(up.join(".ort").join(variant).join(&name));
            }
        }
    }
    if let Some(cwd) = &cwd {
        for variant in ["gpu", "cpu"] {
            paths.push(cwd.join(".ort").join(variant).join(&name));
        }
    }
    Candidates {
        paths,
        named_by: None,
    }
}

fn library_file_name() -> String {
    format!(
        "{}onnxruntime{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The first existing candidate, made absolute.
fn choose(c: &Candidates) -> Result<PathBuf, OrtLibError> {
    for p in &c.paths {
        if p.is_file() {
            return p.canonicalize().map_err(|e| OrtLibError::Load {
                path: p.clone(),
                reason: e.to_string(),
            });
        }
    }
    let origin = c
        .named_by
        .map(|by| format!(", named by {by}"))
        .unwrap_or_default();
    let tried: Vec<String> = c.paths.iter().map(|p| p.display().to_string()).collect();
    Err(OrtLibError::NotFound {
        tried: format!("{}{origin}", tried.join(", ")),
    })
}

/// Checks the library's version, then hands it to `ort` and creates the environment.
fn load(path: &Path) -> Result<OrtInfo, OrtLibError> {
    let version = read_version(path)?;
    if !version_supported(&version) {
        return Err(OrtLibError::TooOld {
            path: path.to_owned(),
            found: version,
        });
    }
    let start_err = |reason: String| OrtLibError::Start {
        path: path.to_owned(),
        reason,
    };
    let builder = quietly(|| ort::init_from(path))
        .map_err(start_err)?
        .map_err(|e| start_err(e.to_string()))?;
    let env = quietly(|| builder.with_name("pipeline").build())
        .map_err(start_err)?
        .map_err(|e| start_err(e.to_string()))?;
    Ok(OrtInfo {
        path: path.to_owned(),
        version,
        env,
    })
}

/// Opens the library on its own and asks `OrtGetApiBase()->GetVersionString()`.
fn read_version(path: &Path) -> Result<String, OrtLibError> {
    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: loading runs the library's initialisers; the path was chosen by the user or the
    // project as ONNX Runtime. Symbols are used only while `lib` is alive.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| OrtLibError::Load {
        path: path.to_owned(),
        reason: error_chain(&e),
    })?;
    let not_ort = || OrtLibError::NotOrt {
        path: path.to_owned(),
    };
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime release.
    let get: libloading::Symbol<GetApiBase> =
        unsafe { lib.get(b"OrtGetApiBase") }.map_err(|_| not_ort())?;
    // SAFETY: documented to return a static struct (checked for null before use).
    let base = unsafe { get() };
    if base.is_null() {
        return Err(not_ort());
    }
    // SAFETY: `base` is non-null and points at the library's static `OrtApiBase`.
    let raw = unsafe { ((*base).GetVersionString)() };
    if raw.is_null() {
        return Err(not_ort());
    }
    // SAFETY: a NUL-terminated static string owned by the library.
    let version = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned();
    Ok(version)
}

/// `outer: inner: innermost`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text = format!("{text}: {cause}");
        next = cause.source();
    }
    text
}

/// `"1.31.1"` → true when `(major, minor) >= MIN_VERSION`; unparsable strings are unsupported.
pub fn version_supported(version: &str) -> bool {
    let mut parts = version.trim().split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= MIN_VERSION,
        _ => false,
    }
}

/// Runs `f`, turning a panic into `Err(message)` without printing it.
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    result.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "internal error in the ort crate".to_string())
    })
}

impl OrtInfo {
    /// The process-wide ONNX Runtime environment sessions are built in.
    pub fn environment(&self) -> &ort::environment::Environment {
        &self.env
    }

    /// Where ONNX Runtime looks for its CUDA provider: beside the main library.
    pub fn cuda_provider_path(&self) -> PathBuf {
        let name = format!(
            "{}onnxruntime_providers_cuda{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        self.path.parent().unwrap_or(Path::new(".")).join(name)
    }

    /// Execution providers compiled into this library, e.g. `["CPUExecutionProvider"]`.
    pub fn providers(&self) -> Result<Vec<String>, OrtLibError> {
        let api = ort::api();
        let mut list: *mut *mut std::ffi::c_char = std::ptr::null_mut();
        let mut len: std::ffi::c_int = 0;
        // SAFETY: out-pointers are valid; the status is checked and released below.
        let status = unsafe { (api.GetAvailableProviders)(&mut list, &mut len) };
        check_status(api, status)?;
        if list.is_null() {
            return Ok(Vec::new());
        }
        let names = (0..len.max(0) as usize)
            // SAFETY: ORT returned `len` valid C strings in `list`.
            .map(|i| unsafe { CStr::from_ptr(*list.add(i)) })
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        // SAFETY: releasing exactly what GetAvailableProviders returned.
        let status = unsafe { (api.ReleaseAvailableProviders)(list, len) };
        check_status(api, status)?;
        Ok(names)
    }
}

fn check_status(api: &ort::sys::OrtApi, status: ort::sys::OrtStatusPtr) -> Result<(), OrtLibError> {
    if status.0.is_null() {
        return Ok(());
    }
    // SAFETY: `status` is a non-null status returned by ORT; read once, then released.
    let message = unsafe { CStr::from_ptr((api.GetErrorMessage)(status.0)) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as above.
    unsafe { (api.ReleaseStatus)(status.0) };
    Err(OrtLibError::Query(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_beats_env_and_is_exclusive() {
        let c = candidates(
            Some(Path::new("/x/lib.so")),
            Some(PathBuf::from("/env/lib.so")),
            Some(PathBuf::from("/exe")),
            None,
        );
        assert_eq!(c.paths, vec![PathBuf::from("/x/lib.so")]);
        assert_eq!(c.named_by, Some("--ort-lib"));
        let c = candidates(None, Some(PathBuf::from("/env/lib.so")), None, None);
        assert_eq!(c.paths, vec![PathBuf::from("/env/lib.so")]);
        assert_eq!(c.named_by, Some("ORT_DYLIB_PATH"));
    }

    #[test]
    fn search_order_exe_dir_then_project_then_cwd() {
        let c = candidates(
            None,
            None,
            Some(PathBuf::from("/r/target/debug")),
            Some(PathBuf::from("/w")),
        );
        assert_eq!(c.named_by, None);
        let name = library_file_name();
        assert_eq!(c.paths[0], PathBuf::from("/r/target/debug").join(&name));
        assert_eq!(
            c.paths[1],
            PathBuf::from("/r/target/debug/../../.ort/gpu").join(&name)
        );
        assert_eq!(
            c.paths.last(),
            Some(&PathBuf::from("/w/.ort/cpu").join(&name))
        );
    }

    #[test]
    fn missing_library_names_every_path_and_the_fix() {
        let c = candidates(None, None, Some(PathBuf::from("/nonexistent/a")), None);
        let msg = choose(&c).unwrap_err().to_string();
        assert!(msg.contains("/nonexistent/a"), "{msg}");
        assert!(msg.contains("scripts/fetch_ort.sh"), "{msg}");
    }

    #[test]
    fn versions_below_the_api_level_are_refused() {
        assert!(version_supported("1.31.1"));
        assert!(version_supported(&format!("1.{}.0", MIN_VERSION.1)));
        assert!(!version_supported(&format!("1.{}.9", MIN_VERSION.1 - 1)));
        assert!(version_supported("2.0.0"));
        assert!(!version_supported("garbage"));
        assert!(!version_supported(""));
    }

    #[test]
    fn foreign_file_is_a_load_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("libonnxruntime.so");
        std::fs::write(&fake, b"not a library").unwrap();
        let err = read_version(&fake).unwrap_err();
        assert!(matches!(err, OrtLibError::Load { .. }), "{err}");
    }
}
