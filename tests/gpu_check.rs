//! The GPU check's CPU side (docs/gpu.md): `scripts/gpu_parts.sh` packs small fake parts, the
//! device calls it plans are replayed into a temporary stage folder, and `scripts/gpu_check.sh`
//! verifies, reassembles and, finding no GPU, says so in its JSON and exits 3. Missing and corrupt
//! parts are named; bad arguments exit 2; `report.py` folds step records into the JSON it writes.
//! Needs bash, xz, tar, split, sha256sum and python3 (standard library); downloads nothing.

mod common;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FAKE_VERSION: &str = "pipeline 0.0.0-fake";

fn script(name: &str) -> PathBuf {
    common::root().join("scripts").join(name)
}

/// `bash SCRIPT ARGS` in the repository root, with no GPU (`NVIDIA_SMI` names nothing) and `OUT` unset.
fn bash(name: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(script(name))
        .args(args)
        .current_dir(common::root())
        .env("NVIDIA_SMI", "/nonexistent/nvidia-smi")
        .env("XZ_LEVEL", "1")
        .env_remove("OUT");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run bash")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Fake inputs (a shell script as the binary, random bytes as the libraries), packed into parts of
/// 8,000 bytes with a call limit that fits two parts beside the working tree.
struct Packed {
    dir: tempfile::TempDir,
    plan: Value,
}

impl Packed {
    fn new() -> Packed {
        let dir = tempfile::tempdir().unwrap();
        let ort = dir.path().join("ort");
        fs::create_dir_all(&ort).unwrap();
        let bin = dir.path().join("pipeline");
        fs::write(&bin, format!("#!/bin/sh\necho '{FAKE_VERSION}'\n")).unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for (name, len) in [
            ("libonnxruntime.so.1.31.1", 20_000),
            ("libonnxruntime_providers_shared.so", 3_000),
            ("libonnxruntime_providers_cuda.so", 30_000),
        ] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            fs::write(ort.join(name), bytes).unwrap();
        }
        let parts = dir.path().join("parts");
        let tree = tree_bytes();
        let limit = (tree + 2 * 8_000 + 1_000).to_string();
        let out = bash(
            "gpu_parts.sh",
            &[
                "--bin",
                s(&bin),
                "--ort-dir",
                s(&ort),
                "--out",
                s(&parts),
                "--part-size",
                "8000",
                "--call-limit",
                &limit,
            ],
            &[],
        );
        let text = common::stdout_of(&out);
        assert!(text.contains("device calls"), "{text}");
        let plan: Value =
            serde_json::from_str(&fs::read_to_string(parts.join("calls.json")).unwrap()).unwrap();
        Packed { dir, plan }
    }

    fn parts(&self) -> PathBuf {
        self.dir.path().join("parts")
    }

    fn stage(&self) -> PathBuf {
        self.dir.path().join("stage")
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn calls(&self) -> &Vec<Value> {
        self.plan["calls"].as_array().unwrap()
    }

    /// A folder holding what call `i` carries (file names only), as the device tool would lay it.
    fn carried(&self, i: usize) -> PathBuf {
        let dir = self.dir.path().join(format!("call{i}"));
        fs::create_dir_all(&dir).unwrap();
        for path in self.calls()[i]["carry"].as_array().unwrap() {
            let name = Path::new(path.as_str().unwrap()).file_name().unwrap();
            fs::copy(self.parts().join(name), dir.join(name)).unwrap();
        }
        dir
    }

    /// `gpu_check.sh MODE --parts DIR --stage .. --out ..` plus `extra`.
    fn check(&self, mode: &str, parts: &Path, extra: &[(&str, &str)]) -> Output {
        let (stage, out) = (self.stage(), self.out());
        let args = [
            mode,
            "--parts",
            s(parts),
            "--stage",
            s(&stage),
            "--out",
            s(&out),
        ];
        bash("gpu_check.sh", &args, extra)
    }

    /// Replays every call but the last (`stage`).
    fn stage_all_but_last(&self) {
        for i in 0..self.calls().len() - 1 {
            let cmd = self.calls()[i]["command"].as_str().unwrap();
            assert!(
                cmd.starts_with("scripts/gpu_check.sh stage --parts "),
                "{cmd}"
            );
            let dir = self.carried(i);
            common::succeeded(&self.check("stage", &dir, &[]));
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.out().join("gpu_check.json")).unwrap())
            .unwrap()
    }
}

/// What travels with every device call besides the carried paths, as gpu_parts.sh counts it.
fn tree_bytes() -> u64 {
    let out = Command::new("git")
        .args(["ls-files", "-co", "--exclude-standard", "-z"])
        .current_dir(common::root())
        .output()
        .unwrap();
    out.stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .filter_map(|p| fs::metadata(common::root().join(String::from_utf8_lossy(p).as_ref())).ok())
        .map(|m| m.len())
        .sum()
}

fn stderr(o: &Output) -> String {
    common::text(&o.stderr)
}

#[test]
fn calls_fit_the_device_limits() {
    let p = Packed::new();
    let calls = p.calls();
    assert!(calls.len() >= 3, "{:#}", p.plan);
    let limit = p.plan["call_limit"].as_u64().unwrap();
    for (i, c) in calls.iter().enumerate() {
        let carry = c["carry"].as_array().unwrap();
        assert!(carry.len() <= 8 && carry[0].as_str().unwrap().ends_with("parts.sha256"));
        assert!(c["with_tree_bytes"].as_u64().unwrap() <= limit, "{c}");
        let last = i == calls.len() - 1;
        let cmd = c["command"].as_str().unwrap();
        assert!(cmd.len() <= 2000);
        assert_eq!(cmd.starts_with("scripts/gpu_check.sh run"), last, "{cmd}");
    }
    let listed: usize = calls
        .iter()
        .map(|c| c["carry"].as_array().unwrap().len() - 1)
        .sum();
    let manifest = fs::read_to_string(p.parts().join("parts.sha256")).unwrap();
    assert_eq!(listed, manifest.lines().count());
    assert!(fs::read_to_string(p.parts().join("calls.txt"))
        .unwrap()
        .contains("timeout_s=600"));
}

#[test]
fn replayed_calls_reassemble_and_report_no_gpu() {
    let p = Packed::new();
    p.stage_all_but_last();
    let last = p.carried(p.calls().len() - 1);
    let out = p.check("run", &last, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("no GPU here"), "{err}");
    let doc = p.json();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["status"], "no_gpu");
    assert!(doc["reason"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/nvidia-smi not found"));
    assert_eq!(doc["machine"]["pipeline_version"], FAKE_VERSION);
    assert_eq!(doc["machine"]["onnxruntime_version"], "1.31.1");
    assert_eq!(doc["parts"]["verified"], true);
    let parts = doc["parts"]["parts"].as_array().unwrap();
    assert!(parts.iter().all(|x| x["bytes"].as_u64().unwrap() <= 8000));
    assert!(doc["bench"].as_array().unwrap().is_empty());
    let log = fs::read_to_string(p.out().join("gpu_check.log")).unwrap();
    assert!(log.contains("GPU check: no_gpu"), "{log}");
    let assembled = fs::read_dir(p.stage())
        .unwrap()
        .flatten()
        .map(|e| e.path().join("assembled/ort/libonnxruntime.so"))
        .find(|x| x.exists());
    assert!(
        assembled.is_some(),
        "no assembled ONNX Runtime in the stage"
    );
}

#[test]
fn python_decompresses_where_xz_is_missing() {
    let p = Packed::new();
    let out = p.check("run", &p.parts(), &[("GPU_CHECK_NO_XZ", "1")]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(p.json()["status"], "no_gpu");
}

#[test]
fn missing_parts_are_named() {
    let p = Packed::new();
    let first = p.carried(0);
    common::succeeded(&p.check("stage", &first, &[]));
    let names: Vec<String> = p.calls()[1..]
        .iter()
        .flat_map(|c| c["carry"].as_array().unwrap()[1..].to_vec())
        .map(|v| v.as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    let out = p.check("run", &first, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("missing part(s)"), "{err}");
    for n in &names {
        assert!(err.contains(n.as_str()), "{n} not named: {err}");
    }
    assert!(!p.out().join("gpu_check.json").exists());
}

#[test]
fn a_corrupt_carried_part_is_named_and_not_staged() {
    let p = Packed::new();
    let dir = p.carried(1);
    let name = p.calls()[1]["carry"][1]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mut bytes = fs::read(dir.join(&name)).unwrap();
    bytes[100] ^= 0xff;
    fs::write(dir.join(&name), bytes).unwrap();
    let out = p.check("stage", &dir, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("part {name} carried in this call is corrupt")),
        "{err}"
    );
}

#[test]
fn a_part_corrupted_in_the_stage_is_named() {
    let p = Packed::new();
    common::succeeded(&p.check("stage", &p.parts(), &[]));
    let bundle = fs::read_link(p.stage().join("current")).unwrap();
    let part = p.stage().join(bundle).join("ort-01");
    fs::write(&part, b"truncated").unwrap();
    let only_manifest = p.dir.path().join("manifest-only");
    fs::create_dir_all(&only_manifest).unwrap();
    fs::copy(
        p.parts().join("parts.sha256"),
        only_manifest.join("parts.sha256"),
    )
    .unwrap();
    let out = p.check("verify", &only_manifest, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("part ort-01 (sha256"), "{err}");
    assert!(err.contains("is corrupt"), "{err}");
}

#[test]
fn no_manifest_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path().join("stage");
    let out = bash(
        "gpu_check.sh",
        &["verify", "--parts", s(dir.path()), "--stage", s(&stage)],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("parts.sha256"), "{err}");
    assert!(err.contains("just gpu-parts"), "{err}");
}

#[test]
fn bad_arguments_exit_2_and_say_which() {
    for (args, needle) in [
        (&["--images", "0"][..], "--images needs a positive integer"),
        (
            &["--batches", "32 x"][..],
            "--batches needs a positive integer",
        ),
        (&["--bogus"][..], "unknown argument '--bogus'"),
        (&["--parts"][..], "--parts needs a value"),
    ] {
        let out = bash("gpu_check.sh", args, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let help = bash("gpu_check.sh", &["--help"], &[]);
    assert!(common::stdout_of(&help).contains("Exit: 0 all measured"));
}

/// A bench and an extract step record in, the JSON's derived fields and exit 5 (a failed step) out.
#[test]
fn report_folds_step_records_into_one_json() {
    let dir = tempfile::tempdir().unwrap();
    let res = dir.path().join("results");
    fs::create_dir_all(&res).unwrap();
    let bench = serde_json::json!({"name": "bench.vgg16-conv-random.f32.b64", "rc": 0, "wall_s": 3.0,
        "gpu": {"gpu_util_mean_pct": 90.0, "process_gpu_mem_max_mib": 900.0},
        "json": [{"provider": "cuda", "batch": 64, "repeats": 10, "median_seconds_per_batch": 0.04, "images_per_sec": 1600.0}]});
    let extract = serde_json::json!({"name": "extract.vgg16-conv-random.centre", "rc": 0, "wall_s": 5.0,
        "user_s": 30.0, "sys_s": 2.0, "gpu": {"gpu_util_mean_pct": 40.0}, "stdout_tail": "",
        "attached": {"provider": "cuda", "views": 800, "new_images": 400, "seconds": 4.0, "views_per_sec": 200.0}});
    let failed = serde_json::json!({"name": "torch.bare", "rc": 1, "stderr_tail": "boom"});
    for (name, v) in [
        ("bench.vgg16-conv-random.f32.b64", bench),
        ("extract.vgg16-conv-random.centre", extract),
        ("torch.bare", failed),
    ] {
        fs::write(res.join(format!("{name}.json")), v.to_string()).unwrap();
    }
    let out_json = dir.path().join("out/gpu_check.json");
    let out = Command::new("python3")
        .arg(script("gpu/report.py"))
        .args([
            "--results",
            s(&res),
            "--out",
            s(&out_json),
            "--bundle",
            s(dir.path()),
        ])
        .args(["--status", "measured", "--extract-batch", "64"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let table = common::text(&out.stdout);
    assert!(table.contains("vgg16-conv-random"), "{table}");
    assert!(table.contains("step torch.bare: failed, exit 1"), "{table}");
    let doc: Value = serde_json::from_str(&fs::read_to_string(&out_json).unwrap()).unwrap();
    assert_eq!(doc["bench"][0]["images_per_sec"], 1600.0);
    assert_eq!(doc["bench"][0]["precision"], "f32");
    let e = &doc["extract"][0];
    assert_eq!(e["views_config"], "centre");
    assert_eq!(e["images_per_sec"], 100.0);
    assert_eq!(e["inference_s_est"], 0.5);
    assert_eq!(e["other_s_est"], 3.5);
    assert_eq!(e["cores_busy_mean"], 6.4);
    assert!(doc["precision_note"].as_str().unwrap().contains("f16"));
}

/// A GPU listed but no cuDNN on the library path: exit 4, the missing library named in the JSON.
#[test]
fn missing_cuda_libraries_are_named() {
    let p = Packed::new();
    let smi = p.dir.path().join("nvidia-smi");
    fs::write(
        &smi,
        "#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 580.159.04, 81559 MiB'\n",
    )
    .unwrap();
    let mut perms = fs::metadata(&smi).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&smi, perms).unwrap();
    let out = p.check("run", &p.parts(), &[("NVIDIA_SMI", s(&smi))]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let doc = p.json();
    assert_eq!(doc["status"], "cuda_failed");
    assert!(
        doc["reason"].as_str().unwrap().contains("libcudnn.so.9"),
        "{doc:#}"
    );
    assert_eq!(doc["machine"]["gpu"]["name"], "NVIDIA H100 80GB HBM3");
}
