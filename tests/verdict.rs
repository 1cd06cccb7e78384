//! What `run`, `eval`, `params` and the report tell the person with the photos: the verdict
//! first (how often right, with a range, against guessing), class folders left out named with the
//! fix, one class refused before any work, the trained head's own parameter count, and a
//! "Misclassified" section that lists only misclassified images.

mod common;

use common::{assert_clean_failure, copy_tree, fixture, json, pipeline, run_into, s, succeeded};
use std::path::Path;

/// Raw fixture tree plus a class folder `dogs` with one image of its own.
fn tree_with_tiny_class(dir: &Path) {
    copy_tree(&fixture("images/raw"), dir);
    std::fs::create_dir_all(dir.join("dogs")).unwrap();
    let img = image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 90])
    });
    img.save(dir.join("dogs/d_00.png")).unwrap();
}

/// The summary's lines after its header.
fn summary(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .skip_while(|l| !l.contains("pipeline run summary"))
        .skip(1)
        .collect()
}

#[test]
fn run_opens_with_the_verdict_names_a_left_out_class_and_counts_the_trained_head() {
    let t = tempfile::tempdir().unwrap();
    let (data, w) = (t.path().join("photos"), t.path().join("w"));
    tree_with_tiny_class(&data);
    let (out, err) = succeeded(&run_into(&data, &w, &["--head", "logistic"]));
    let lines = summary(&out);
    assert!(lines[0].starts_with("Right on "), "{out}");
    assert!(
        lines[0].contains("held-out test photos") && lines[0].contains("95 % range"),
        "{out}"
    );
    assert!(lines[1].starts_with("Guessing would be right"), "{out}");
    let left = "Left out \"dogs\": 1 usable image; a class needs at least 3, one per split (train, valid, test) — add 2 photos or remove the folder.";
    assert!(out.contains(left), "{out}");
    // named up front, before the features are computed
    let warn = err.find(&format!("warning: {left}")).expect(&err);
    assert!(warn < err.find("[4/6] extract").unwrap(), "{err}");
    assert!(out.contains("6 class folders, 4 used"), "{out}");
    // the fixture's delta has 2 usable images (its third is unreadable)
    assert!(out.contains("Left out \"delta\": 2 usable images"), "{out}");
    // 4 classes: top-5 would be right by construction and is not shown
    assert!(!out.contains("top-5"), "{out}");
    // the chosen head's count: logistic Linear(16, 4) on the tiny backbone's 16 features
    let trainable = 16 * 4 + 4;
    assert!(
        out.contains(&format!(
            "trainable {trainable} (the trained logistic head, Linear(16, 4) on L2-normalised features)"
        )),
        "{out}"
    );
    for p in [w.join("params.json"), w.join("runs/logistic/params.json")] {
        let j = json(&p);
        assert_eq!(j["trainable"], trainable, "{}", p.display());
        assert_eq!(j["head"], "logistic");
    }
    let v = json(&w.join("runs/logistic/eval-test/verdict.json"));
    let left: Vec<&str> = v["left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["class"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["delta", "dogs"]);
    let page = std::fs::read_to_string(w.join("report.html")).unwrap();
    let first = page.find("<section id=").unwrap();
    assert!(
        page[first..].starts_with("<section id=\"verdict\">"),
        "verdict is not the first section"
    );
    assert!(
        page.contains("trained logistic head"),
        "report describes another head"
    );
    let model = &page[page.find("<section id=\"model\">").unwrap()..];
    let model = &model[..model.find("</section>").unwrap()];
    assert!(
        !model.contains("ReLU"),
        "an MLP described for a logistic run: {model}"
    );
}

#[test]
fn params_run_counts_every_member_of_an_ensemble() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    succeeded(&run_into(
        &fixture("images/raw"),
        &w,
        &[
            "--head",
            "mlp",
            "--ensemble",
            "2",
            "--hidden",
            "8",
            "--epochs",
            "2",
        ],
    ));
    let run = w.join("runs/mlp");
    let (table, _) = succeeded(&pipeline(&["params", "--run", s(&run)]));
    // 4 classes: the fixture's delta folder has too few usable images
    assert!(table.contains("head.m1.3 (Linear(8, 4))"), "{table}");
    let (j, _) = succeeded(&pipeline(&["params", "--run", s(&run), "--json"]));
    let j: serde_json::Value = serde_json::from_str(&j).unwrap();
    let member = (16 * 8 + 8) + (8 * 4 + 4);
    assert_eq!(j["trainable"], 2 * member);
    assert_eq!(j["frozen"], 112);
    assert_eq!(j["head"], "mlp-ensemble");
    assert_eq!(json(&w.join("params.json"))["trainable"], 2 * member);
}

#[test]
fn rejects_a_single_class_folder_before_any_work() {
    let t = tempfile::tempdir().unwrap();
    let (data, w) = (t.path().join("photos"), t.path().join("w"));
    copy_tree(&fixture("images/raw/alpha"), &data.join("alpha"));
    let o = run_into(&data, &w, &[]);
    assert_clean_failure(&o, &["one class folder (alpha)", "at least two"]);
    assert!(!w.exists(), "work started for a single class");
}

#[test]
fn rejects_when_only_one_class_has_enough_photos() {
    let t = tempfile::tempdir().unwrap();
    let (data, w) = (t.path().join("photos"), t.path().join("w"));
    copy_tree(&fixture("images/raw/alpha"), &data.join("alpha"));
    std::fs::create_dir_all(data.join("dogs")).unwrap();
    std::fs::copy(fixture("images/raw/beta/b_00.png"), data.join("dogs/d.png")).unwrap();
    let o = run_into(&data, &w, &[]);
    let err = common::fails(&o);
    assert!(
        err.contains("1 class with at least 3 usable images, a classifier needs two"),
        "{err}"
    );
    assert!(err.contains("Left out \"dogs\": 1 usable image"), "{err}");
    assert!(
        !w.join("features").exists(),
        "features computed for a refused run"
    );
}

#[test]
fn eval_speaks_first_and_the_report_lists_only_misclassified_images_as_such() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    succeeded(&run_into(
        &fixture("images/raw"),
        &w,
        &["--head", "mlp", "--epochs", "3", "--hidden", "8"],
    ));
    let run = w.join("runs/mlp");
    let (e, _) = succeeded(&pipeline(&["eval", "--run", s(&run), "--split", "valid"]));
    assert!(e.starts_with("Right on "), "{e}");
    assert!(
        e.contains("`predict` marks photos unlike the training photos as unknown: it would mark "),
        "{e}"
    );
    assert!(e.contains("held") || e.contains("valid photos"), "{e}");
    let verdict: Vec<&str> = e.lines().take_while(|l| !l.is_empty()).collect();
    assert!(
        verdict.iter().all(|l| !l.contains("test photo")),
        "the verdict of the valid split speaks of test photos: {e}"
    );
    assert!(e.contains("valid photos: the range is wide"), "{e}");
    let page = std::fs::read_to_string(w.join("report.html")).unwrap();
    let sec = &page[page.find("<section id=\"misclassified\">").unwrap()..];
    let sec = &sec[..sec.find("</section>").unwrap()];
    let (wrong, right) = sec.split_at(sec.find("<h3 id=\"least-sure\">").unwrap_or(sec.len()));
    // a card's list of answers starts with its top-1: "ok" when it is the true class
    assert!(
        !wrong.contains("<ol><li class=\"ok\">"),
        "a right answer listed as misclassified: {wrong}"
    );
    assert!(
        !right.contains("<ol><li class=\"bad\">"),
        "a wrong answer listed as right: {right}"
    );
}
