//! The search order on fake layouts in temporary folders: empty files stand in for the library
//! and a shell script for the environment's `python` (nothing is loaded or installed).

use super::*;
use crate::install::PyEnv;
use std::os::unix::fs::PermissionsExt;

/// `<t>/venv` with `bin/` (the executable's folder) and `lib/python3.11/site-packages/`.
fn venv(t: &Path) -> (Layout, PathBuf) {
    let venv = t.join("venv");
    std::fs::create_dir_all(venv.join("bin")).unwrap();
    std::fs::create_dir_all(venv.join("lib/python3.11/site-packages")).unwrap();
    let layout = Layout::from_dirs(Some(venv.join("bin")), Some(t.join("empty")));
    (layout, venv)
}

fn touch(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b"").unwrap();
}

/// A `python` that prints `dir` as onnxruntime's folder, or fails as a Python without it.
fn fake_python(path: &Path, onnxruntime_dir: Option<&Path>) {
    let body = match onnxruntime_dir {
        Some(d) => format!("#!/bin/sh\necho {}\n", d.display()),
        None => {
            "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'onnxruntime'\" >&2\nexit 1\n"
                .to_string()
        }
    };
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn found(s: &Search) -> Option<(PathBuf, Source)> {
    s.found().map(|(p, src)| (p.to_path_buf(), src))
}

#[test]
fn flag_and_env_var_are_the_only_place_looked_at() {
    let t = tempfile::tempdir().unwrap();
    let (layout, venv) = venv(t.path());
    touch(&venv.join("lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1"));
    let s = search(
        Some(Path::new("/nope/lib.so")),
        Some("/env/lib.so".into()),
        &layout,
    );
    assert_eq!(s.looked.len(), 1);
    assert_eq!(s.looked[0].source, Source::Flag);
    assert_eq!(s.found(), None);
    let s = search(None, Some("/env/lib.so".into()), &layout);
    assert_eq!(s.looked.len(), 1);
    assert_eq!(s.looked[0].source, Source::EnvVar);
    assert!(s.tried().contains("/env/lib.so (missing)"), "{}", s.tried());
}

#[test]
fn order_is_beside_exe_then_clone_then_env_package_then_env_python() {
    let t = tempfile::tempdir().unwrap();
    let (mut layout, venv) = venv(t.path());
    let elsewhere = t.path().join("elsewhere/onnxruntime");
    touch(&elsewhere.join("capi/libonnxruntime.so.1.26.0"));
    fake_python(&venv.join("bin/python"), Some(&elsewhere));
    layout.env = Some(PyEnv {
        prefix: venv.clone(),
        python: Some(venv.join("bin/python")),
    });
    let s = search(None, None, &layout);
    assert_eq!(
        found(&s),
        Some((
            elsewhere.join("capi/libonnxruntime.so.1.26.0"),
            Source::EnvPython
        ))
    );
    let package =
        venv.join("lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1");
    touch(&package);
    let s = search(None, None, &layout);
    assert_eq!(found(&s), Some((package, Source::EnvPackage)));
    assert!(s.looked.iter().all(|l| l.source != Source::EnvPython));
    let clone = t.path().join("clone");
    touch(&clone.join(".ort/cpu/libonnxruntime.so"));
    layout.cwd = Some(clone.clone());
    let s = search(None, None, &layout);
    assert_eq!(
        found(&s),
        Some((clone.join(".ort/cpu/libonnxruntime.so"), Source::Clone))
    );
    touch(&clone.join(".ort/gpu/libonnxruntime.so"));
    let s = search(None, None, &layout);
    assert_eq!(
        found(&s),
        Some((clone.join(".ort/gpu/libonnxruntime.so"), Source::Clone))
    );
    touch(&venv.join("bin/libonnxruntime.so"));
    let s = search(None, None, &layout);
    assert_eq!(
        found(&s),
        Some((venv.join("bin/libonnxruntime.so"), Source::BesideExe))
    );
    assert_eq!(s.looked.len(), 1);
}

#[test]
fn the_clone_the_executable_was_built_in_comes_before_the_working_directory() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("clone");
    touch(&root.join("Cargo.toml"));
    touch(&root.join(".ort/cpu/libonnxruntime.so"));
    let cwd = t.path().join("other");
    touch(&cwd.join(".ort/cpu/libonnxruntime.so"));
    std::fs::create_dir_all(root.join("target/debug")).unwrap();
    let layout = Layout::from_dirs(Some(root.join("target/debug")), Some(cwd));
    let s = search(None, None, &layout);
    assert_eq!(
        found(&s),
        Some((root.join(".ort/cpu/libonnxruntime.so"), Source::Clone))
    );
}

#[test]
fn rejects_an_environment_without_onnxruntime_naming_every_place_and_the_fix() {
    let t = tempfile::tempdir().unwrap();
    let (_, venv) = venv(t.path());
    fake_python(&venv.join("bin/python3"), None);
    let layout = Layout::from_dirs(Some(venv.join("bin")), Some(t.path().join("empty")));
    let s = search(None, None, &layout);
    assert_eq!(s.found(), None);
    let sources: Vec<Source> = s.looked.iter().map(|l| l.source).collect();
    assert_eq!(
        sources,
        [
            Source::BesideExe,
            Source::Clone,
            Source::Clone,
            Source::EnvPackage,
            Source::EnvPython
        ]
    );
    let tried = s.tried();
    for needle in [
        "venv/bin/libonnxruntime.so (missing)",
        "empty/.ort/gpu/libonnxruntime.so (missing)",
        "site-packages/onnxruntime/capi/libonnxruntime.so* (no onnxruntime package)",
        "python3 -c 'import onnxruntime' (ModuleNotFoundError: No module named 'onnxruntime')",
    ] {
        assert!(tried.contains(needle), "{needle} not in {tried}");
    }
    let fix = fix(&layout);
    assert!(
        fix.contains("venv/bin/python3 -m pip install 'onnxruntime>=1.26'"),
        "{fix}"
    );
}

#[test]
fn fix_in_a_clone_is_fetch_ort_and_elsewhere_pip_plus_env_var() {
    let t = tempfile::tempdir().unwrap();
    touch(&t.path().join("Cargo.toml"));
    std::fs::create_dir_all(t.path().join("target/release")).unwrap();
    let clone = Layout::from_dirs(Some(t.path().join("target/release")), None);
    assert!(fix(&clone).contains("just fetch-ort"), "{}", fix(&clone));
    let bare = Layout::from_dirs(Some(t.path().join("nowhere")), None);
    assert!(fix(&bare).contains("ORT_DYLIB_PATH"), "{}", fix(&bare));
}

#[test]
fn library_in_prefers_the_plain_name_and_skips_provider_libraries() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path();
    touch(&d.join("libonnxruntime_providers_shared.so"));
    assert_eq!(library_in(d), None);
    touch(&d.join("libonnxruntime.so.1.31.1"));
    assert_eq!(library_in(d), Some(d.join("libonnxruntime.so.1.31.1")));
    touch(&d.join("libonnxruntime.so"));
    assert_eq!(library_in(d), Some(d.join("libonnxruntime.so")));
}
