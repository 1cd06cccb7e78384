//! Loading ONNX Runtime's shared library (`ort` with `load-dynamic`), once per process, from the
//! place [`crate::install::ort_search`] finds (its module doc gives the order).
//! The library is opened and its version checked before `ort` touches it, so a missing, foreign or
//! too-old library is a typed error, never a panic inside `ort`; every error ends with the one
//! command that fixes it where this binary runs (a clone, a Python environment, elsewhere).

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::install::ort_search::{self, Source};
use crate::install::Layout;

/// Oldest ONNX Runtime `(major, minor)` this build can drive (`ort`'s `api-26` feature).
pub const MIN_VERSION: (u32, u32) = (1, ort::MINOR_VERSION);

/// The loaded ONNX Runtime: where it came from, its version and the process-wide environment.
pub struct OrtInfo {
    /// Absolute path of the library actually loaded.
    pub path: PathBuf,
    /// Version string reported by the library, e.g. `1.31.1`.
    pub version: String,
    /// The rule of the search order that found it.
    pub source: Source,
    env: ort::environment::Environment,
}

/// Why ONNX Runtime could not be loaded; `fix` is the one command that helps here.
#[derive(Debug, thiserror::Error)]
pub enum OrtLibError {
    #[error("ONNX Runtime library not found; looked at, in order: {tried}; fix: {fix}")]
    NotFound { tried: String, fix: String },
    #[error("cannot load ONNX Runtime library {path}: {reason}; fix: {fix}")]
    Load {
        path: PathBuf,
        reason: String,
        fix: String,
    },
    #[error("{path} is not ONNX Runtime (no usable `OrtGetApiBase`); fix: {fix}")]
    NotOrt { path: PathBuf, fix: String },
    #[error("ONNX Runtime at {path} is version {found}, this build needs {}.{} or newer; fix: {fix}", MIN_VERSION.0, MIN_VERSION.1)]
    TooOld {
        path: PathBuf,
        found: String,
        fix: String,
    },
    #[error("ONNX Runtime at {path} failed to start: {reason}; fix: {fix}")]
    Start {
        path: PathBuf,
        reason: String,
        fix: String,
    },
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
    let layout = Layout::current();
    let search = ort_search::search(explicit, env_var.map(PathBuf::from), &layout);
    let fix = ort_search::fix(&layout);
    let Some((path, source)) = search.found() else {
        return Err(OrtLibError::NotFound {
            tried: search.tried(),
            fix,
        });
    };
    let path = path.canonicalize().map_err(|e| OrtLibError::Load {
        path: path.to_owned(),
        reason: e.to_string(),
        fix: fix.clone(),
    })?;
    let info = load(&path, source, &fix)?;
    Ok(INFO.get_or_init(|| info))
}

/// The ONNX Runtime loaded earlier by [`init`], if any.
pub fn loaded() -> Option<&'static OrtInfo> {
    INFO.get()
}

/// Checks the library's version, then hands it to `ort` and creates the environment.
fn load(path: &Path, source: Source, fix: &str) -> Result<OrtInfo, OrtLibError> {
    let version = read_version(path, fix)?;
    if !version_supported(&version) {
        return Err(OrtLibError::TooOld {
            path: path.to_owned(),
            found: version,
            fix: fix.to_owned(),
        });
    }
    let start_err = |reason: String| OrtLibError::Start {
        path: path.to_owned(),
        reason,
        fix: fix.to_owned(),
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
        source,
        env,
    })
}

/// Opens the library on its own and asks `OrtGetApiBase()->GetVersionString()`.
fn read_version(path: &Path, fix: &str) -> Result<String, OrtLibError> {
    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: loading runs the library's initialisers; the path was chosen by the user or the
    // project as ONNX Runtime. Symbols are used only while `lib` is alive.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| OrtLibError::Load {
        path: path.to_owned(),
        reason: error_chain(&e),
        fix: fix.to_owned(),
    })?;
    let not_ort = || OrtLibError::NotOrt {
        path: path.to_owned(),
        fix: fix.to_owned(),
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
        let err = read_version(&fake, "fix it").unwrap_err();
        assert!(matches!(err, OrtLibError::Load { .. }), "{err}");
    }
}
