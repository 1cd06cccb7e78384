//! Report sections about the inputs: the data (counts, sizes, colour types, problems) and the
//! model (parameters).

use super::html::{esc, facts, figure, table, Cell};
use super::{missing, svg, Workdir};
use serde_json::Value;
use std::fmt::Write as _;

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn u(v: &Value) -> usize {
    v.as_u64().unwrap_or(0) as usize
}

/// The data section.
pub fn data(w: &Workdir) -> String {
    let mut o = String::new();
    if let Some(r) = &w.raw {
        let mut f = vec![
            ("source", s(&r["root"])),
            (
                "images",
                format!("{} usable of {} files", u(&r["images"]), u(&r["files"])),
            ),
            (
                "classes",
                r["classes"].as_array().map_or(0, Vec::len).to_string(),
            ),
            ("unreadable files", u(&r["unreadable_files"]).to_string()),
        ];
        if let Some(sp) = &w.split {
            f.push((
                "split",
                format!(
                    "{} · strategy {} · seed {} · ratios {}",
                    s(&sp["mode"]),
                    s(&sp["strategy"]),
                    s(&sp["seed"]),
                    s(&sp["ratios"])
                ),
            ));
        }
        o += &facts(&f);
    }
    match &w.by_split {
        Some(b) => o += &counts(b),
        None => {
            o += &missing(
                "split inspection (inspect/split/report.json)",
                "run `pipeline run` or `pipeline inspect --json` on the split tree",
            )
        }
    }
    match &w.raw {
        Some(r) => o += &sizes(r),
        None => o += &missing("inspection (inspect/report.json)", "run `pipeline run`"),
    }
    o += &problems(w);
    o
}

fn counts(b: &Value) -> String {
    let splits: Vec<String> = b["splits"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let classes = b["classes"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = classes.iter().map(|c| s(&c["name"])).collect();
    let series: Vec<(String, Vec<f64>)> = splits
        .iter()
        .map(|sp| {
            (
                sp.clone(),
                classes.iter().map(|c| u(&c["images"][sp]) as f64).collect(),
            )
        })
        .collect();
    let mut head: Vec<&str> = vec!["class"];
    head.extend(splits.iter().map(String::as_str));
    head.push("total");
    let rows = classes
        .iter()
        .map(|c| {
            let mut r = vec![Cell::text(s(&c["name"]))];
            r.extend(splits.iter().map(|sp| Cell::int(u(&c["images"][sp]))));
            r.push(Cell::int(u(&c["total"])));
            r
        })
        .collect();
    let c = &b["counts"];
    let note = format!(
        "Images per class in {}: min {}, median {}, max {}, imbalance {}; {} classes under {} images.",
        s(&c["split"]), u(&c["min"]), s(&c["median"]), u(&c["max"]),
        c["imbalance_ratio"].as_f64().map_or("—".into(), |r| format!("{r:.1}×")),
        c["under_threshold"].as_array().map_or(0, Vec::len), u(&c["threshold"])
    );
    format!(
        "<h3>Images per class and split</h3><p>{}</p><div class=\"row\">{}{}</div>",
        esc(&note),
        table(&head, rows, true),
        figure(
            &svg::stacked_hbars(&names, &series),
            "Usable images per class, stacked by split."
        )
    )
}

fn sizes(r: &Value) -> String {
    let recs = r["records"].as_array().cloned().unwrap_or_default();
    let infos: Vec<&Value> = recs
        .iter()
        .filter(|x| x["info"].is_object())
        .map(|x| &x["info"])
        .collect();
    let stride = infos.len().div_ceil(4000).max(1);
    let (mut pts, mut titles) = (Vec::new(), Vec::new());
    for (i, x) in recs
        .iter()
        .filter(|x| x["info"].is_object())
        .enumerate()
        .filter(|(i, _)| i % stride == 0)
    {
        let (wd, ht) = (
            u(&x["info"]["width"]) as f64,
            u(&x["info"]["height"]) as f64,
        );
        pts.push((wd, ht));
        titles.push(format!("{} ({wd}×{ht})", s(&x["path"])));
        let _ = i;
    }
    let aspects: Vec<f64> = infos
        .iter()
        .map(|i| u(&i["width"]) as f64 / (u(&i["height"]).max(1)) as f64)
        .collect();
    let ov = &r["sizes"]["overall"];
    let qrow = |name: &str, q: &Value| {
        let mut row = vec![Cell::text(name)];
        for k in ["min", "q1", "median", "q3", "max"] {
            let v = q[k].as_f64().unwrap_or(f64::NAN);
            row.push(Cell::num(
                v,
                if v.abs() < 10.0 {
                    format!("{v:.2}")
                } else {
                    format!("{v:.0}")
                },
            ));
        }
        row
    };
    let quart = table(
        &["", "min", "q1", "median", "q3", "max"],
        vec![
            qrow("width px", &ov["width"]),
            qrow("height px", &ov["height"]),
            qrow("aspect w/h", &ov["aspect"]),
            qrow("megapixels", &ov["megapixels"]),
        ],
        false,
    );
    let sz = &r["sizes"];
    let kinds = |m: &Value| {
        m.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| vec![Cell::text(k), Cell::int(u(v))])
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut extra = kinds(&sz["colors"]);
    extra.extend(kinds(&sz["formats"]));
    extra.push(vec![
        Cell::text("EXIF-rotated"),
        Cell::int(u(&sz["rotated"])),
    ]);
    extra.push(vec![
        Cell::text("shorter side < 224 (crop)"),
        Cell::int(u(&sz["smaller_than_crop"])),
    ]);
    extra.push(vec![
        Cell::text("shorter side < 256 (upscaled)"),
        Cell::int(u(&sz["upscaled_by_resize"])),
    ]);
    format!(
        "<h3>Image sizes, aspect ratios, colour types</h3><div class=\"row\">{}{}<div>{quart}{}</div></div>",
        figure(&svg::scatter(&pts, &titles, "width px", "height px"), "Width × height of every usable image (after EXIF rotation)."),
        figure(&svg::histogram(&aspects, 30, "aspect ratio (width / height)"), "Aspect ratios."),
        table(&["colour type / format / size", "images"], extra, false)
    )
}

fn problems(w: &Workdir) -> String {
    let mut o = String::from("<h3>Unreadable files and duplicates</h3>");
    let unread: Vec<Vec<Cell>> = w
        .raw
        .iter()
        .flat_map(|r| r["unreadable"].as_array().cloned().unwrap_or_default())
        .map(|x| {
            vec![
                Cell::text(s(&x["path"])),
                Cell::text(s(&x["kind"])),
                Cell::text(s(&x["reason"])),
            ]
        })
        .collect();
    if unread.is_empty() {
        o += "<p>No unreadable files.</p>";
    } else {
        o += &table(&["path", "kind", "reason"], unread, true);
    }
    let groups: Vec<Value> = w
        .by_split
        .iter()
        .chain(w.raw.iter())
        .take(1)
        .flat_map(|r| r["duplicates"].as_array().cloned().unwrap_or_default())
        .collect();
    if groups.is_empty() {
        o += "<p>No byte-identical files.</p>";
    } else {
        let rows = groups
            .iter()
            .map(|g| {
                let paths: Vec<String> = g["paths"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect())
                    .unwrap_or_default();
                let flags = [
                    (g["across_splits"] == true, "across splits (leakage)"),
                    (
                        g["across_classes"] == true,
                        "across classes (label conflict)",
                    ),
                ];
                let f: Vec<&str> = flags.iter().filter(|x| x.0).map(|x| x.1).collect();
                vec![Cell::text(paths.join("  ·  ")), Cell::text(f.join(", "))]
            })
            .collect();
        o += &format!(
            "<p>{} groups of byte-identical files:</p>{}",
            groups.len(),
            table(&["files", "flag"], rows, false)
        );
    }
    if let Some(a) = &w.audit {
        let cross = a.near_duplicates.iter().filter(|d| d.cross_split).count();
        let _ = write!(o, "<p>Near-duplicates (resized, re-encoded, brightened or cropped copies that byte hashes miss): {} pairs, {cross} across splits — see <a href=\"#audit\">Audit</a>.</p>", a.near_duplicates.len());
    }
    o
}

/// The model section: backbone, source, licence, parameters.
pub fn model(w: &Workdir) -> String {
    let mut f = Vec::new();
    let side = w
        .cache
        .as_ref()
        .map(|c| c.manifest.spec.sidecar.clone())
        .unwrap_or(Value::Null);
    for k in ["name", "source", "weights", "license", "licence"] {
        if !side[k].is_null() {
            f.push((k, s(&side[k])));
        }
    }
    if let Some(c) = &w.cache {
        f.push(("model file", c.manifest.stats.model_path.clone()));
        f.push(("model BLAKE3", c.backbone_hash().to_string()));
        f.push(("feature width", c.feature_dim().to_string()));
    }
    let mut o = facts(&f);
    match &w.params {
        Some(p) => {
            let n = |k: &str| crate::output::thousands(p[k].as_u64().unwrap_or(0));
            let _ = write!(o, "<p><span class=\"big\">{} total</span><span class=\"big\">{} frozen</span><span class=\"big\">{} trainable</span></p><p class=\"note\">Every backbone weight is frozen; the trained {} head, {}, is trainable.</p>", n("total"), n("frozen"), n("trainable"), esc(&s(&p["head"])), esc(&s(&p["head_layers"])));
            let rows = p["rows"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter(|r| r["part"] == "head" || u(&r["count"]) > 0)
                .map(|r| {
                    vec![
                        Cell::text(s(&r["part"])),
                        Cell::text(s(&r["name"])),
                        Cell::text(s(&r["op_type"])),
                        Cell::text(s(&r["shapes"])),
                        Cell::int(u(&r["count"])),
                        Cell::text(if r["trainable"] == true { "yes" } else { "no" }),
                    ]
                })
                .collect();
            o += &table(
                &["part", "layer", "op", "shapes", "parameters", "trainable"],
                rows,
                false,
            );
        }
        None => {
            o += &missing(
                "parameter count of the trained head (RUN/params.json)",
                "run `pipeline params --run RUN --json > RUN/params.json`, or rerun `pipeline run`, which writes it",
            )
        }
    }
    o
}
