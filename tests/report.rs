//! `pipeline run` ends with WORKDIR/report.html: one self-contained page (nothing fetched, every
//! image a `data:` URI) with every section; `pipeline report` rewrites it anywhere.

mod common;

use common::{fails, pipeline, succeeded};
use std::path::Path;

const SECTIONS: [&str; 8] = [
    "data",
    "model",
    "extraction",
    "training",
    "evaluation",
    "misclassified",
    "confused",
    "audit",
];

fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "href=\"//",
        "src=\"//",
        "url(",
        "<link",
        "@import",
        "fetch(",
        "xmlhttprequest",
        "<iframe",
    ] {
        assert!(
            !lower.contains(bad),
            "the page fetches something: found {bad:?}"
        );
    }
    for img in html.split("<img ").skip(1) {
        assert!(
            img.starts_with("src=\"data:image/jpeg;base64,"),
            "{}",
            &img[..img.len().min(80)]
        );
    }
}

#[test]
fn run_writes_a_self_contained_report_with_every_section() {
    let t = tempfile::tempdir().unwrap();
    let w = t.path().join("w");
    let (out, _) = succeeded(&common::run_into(
        Path::new("tests/fixtures/images/raw"),
        &w,
        &["--passes", "2", "--epochs", "5"],
    ));
    assert!(
        out.contains("report") && out.contains("report.html"),
        "{out}"
    );
    assert!(w.join("audit.json").exists() && w.join("params.json").exists());
    let html = std::fs::read_to_string(w.join("report.html")).unwrap();
    assert_self_contained(&html);
    for id in SECTIONS {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing"
        );
    }
    for needle in [
        "top-1",
        "Confusion matrix",
        "best epoch",
        "<svg",
        "data:image/jpeg;base64,",
        "trainable",
        "cache key",
        "b_dup.png",
    ] {
        assert!(html.contains(needle), "{needle} missing from the report");
    }
    assert!(html.len() < 5_000_000, "{} bytes", html.len());
    let other = t.path().join("elsewhere/r.html");
    let (o, _) = succeeded(&pipeline(&[
        "report",
        w.to_str().unwrap(),
        "--out",
        other.to_str().unwrap(),
    ]));
    assert!(o.contains("r.html"), "{o}");
    assert_self_contained(&std::fs::read_to_string(&other).unwrap());
}

#[test]
fn report_of_a_missing_or_partial_workdir() {
    let t = tempfile::tempdir().unwrap();
    let err = fails(&pipeline(&[
        "report",
        t.path().join("nope").to_str().unwrap(),
    ]));
    assert!(err.contains("pipeline run"), "{err}");
    // an empty work directory still gives a page, each section saying what is missing
    let (_, _) = succeeded(&pipeline(&["report", t.path().to_str().unwrap()]));
    let html = std::fs::read_to_string(t.path().join("report.html")).unwrap();
    assert_self_contained(&html);
    assert!(
        html.contains("No feature cache"),
        "{}",
        &html[..html.len().min(2000)]
    );
}
