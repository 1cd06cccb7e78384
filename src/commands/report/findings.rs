//! Report sections that show images: the worst test images (fastai's "top losses"), the
//! most-confused class pairs with examples, and the audit of the data from its own features.

use super::evaluation::Predictions;
use super::html::{esc, table, thumbnail, Cell};
use super::{missing, Workdir};
use crate::audit::{explain, AuditReport, LabelIssue};
use std::fmt::Write as _;

/// Worst test images shown.
const WORST: usize = 24;
/// Confused pairs shown, and examples per pair.
const PAIRS: usize = 10;
const EXAMPLES: usize = 3;
/// Rows per audit list shown with thumbnails.
const AUDIT_ROWS: usize = 12;

fn card(w: &Workdir, path: &str, body: &str) -> String {
    format!(
        "<div class=\"card\">{}<div class=\"p\">{}</div>{body}</div>",
        thumbnail(&w.image(path), path),
        esc(path)
    )
}

/// Right images shown below the misclassified ones, least sure first.
const UNSURE: usize = 6;

/// One card: the image, its true class with its probability, and the top 3 answers.
fn answer_card(w: &Workdir, p: &Predictions, i: usize, pt: f32) -> String {
    let y = p.labels[i] as usize;
    let mut b = format!(
        "<div>true <b>{}</b> ({:.1} %)</div><ol>",
        esc(&p.classes[y]),
        pt * 100.0
    );
    for (c, q) in p.top(i, 3) {
        let cls = if c == y { "ok" } else { "bad" };
        let _ = write!(
            b,
            "<li class=\"{cls}\">{} {:.1} %</li>",
            esc(&p.classes[c]),
            q * 100.0
        );
    }
    card(w, &p.paths[i], &(b + "</ol>"))
}

/// The misclassified test images, highest loss first; then, apart and so headed, the right
/// answers the model was least sure of.
pub fn misclassified(w: &Workdir, p: Option<&Predictions>) -> String {
    let Some(p) = p else {
        return missing(
            "test predictions (cache test split + trained run)",
            "run `pipeline run`",
        );
    };
    let mut order: Vec<(usize, f32)> = (0..p.labels.len())
        .map(|i| (i, p.proba[[i, p.labels[i] as usize]]))
        .collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    let is_wrong = |i: usize| p.top(i, 1)[0].0 != p.labels[i] as usize;
    let (wrong, right): (Vec<_>, Vec<_>) = order.iter().partition(|(i, _)| is_wrong(*i));
    let mut o = if wrong.is_empty() {
        format!(
            "<p>None of the {} test images is misclassified.</p>",
            p.labels.len()
        )
    } else {
        format!(
            "<p>{} of {} test images are misclassified{}; highest loss (lowest probability of the true class) first:</p><div class=\"cards\">",
            wrong.len(),
            p.labels.len(),
            if wrong.len() > WORST { format!(", the {WORST} worst shown") } else { String::new() }
        )
    };
    for &(i, pt) in wrong.iter().take(WORST) {
        o += &answer_card(w, p, i, pt);
    }
    if !wrong.is_empty() {
        o += "</div>";
    }
    if !right.is_empty() {
        let _ = write!(
            o,
            "<h3 id=\"least-sure\">Right, but least sure</h3><p>Correctly classified test images with the lowest probability of their true class:</p><div class=\"cards\">"
        );
        for &(i, pt) in right.iter().take(UNSURE) {
            o += &answer_card(w, p, i, pt);
        }
        o += "</div>";
    }
    o
}

/// Most-confused (true → predicted) pairs with example thumbnails.
pub fn confused(w: &Workdir, p: Option<&Predictions>) -> String {
    let Some(p) = p else {
        return missing("test predictions", "run `pipeline run`");
    };
    let k = p.classes.len();
    let mut pairs: Vec<((usize, usize), Vec<usize>)> = Vec::new();
    let mut by = std::collections::HashMap::<(usize, usize), Vec<usize>>::new();
    for i in 0..p.labels.len() {
        let (y, g) = (p.labels[i] as usize, p.top(i, 1)[0].0);
        if y != g && y < k {
            by.entry((y, g)).or_default().push(i);
        }
    }
    pairs.extend(by);
    pairs.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    if pairs.is_empty() {
        return "<p>No test image is misclassified.</p>".into();
    }
    let mut o = String::from("<div class=\"groups\">");
    for ((y, g), imgs) in pairs.iter().take(PAIRS) {
        let _ = write!(
            o,
            "<div class=\"group\"><h3>{} → {}: {} test image{}</h3><div class=\"cards\">",
            esc(&p.classes[*y]),
            esc(&p.classes[*g]),
            imgs.len(),
            if imgs.len() == 1 { "" } else { "s" }
        );
        for &i in imgs.iter().take(EXAMPLES) {
            o += &card(
                w,
                &p.paths[i],
                &format!(
                    "<div class=\"bad\">{:.1} % {}</div>",
                    p.proba[[i, *g]] * 100.0,
                    esc(&p.classes[*g])
                ),
            );
        }
        o += "</div></div>";
    }
    o + "</div>"
}

/// The audit: likely label errors, hard images, near-duplicates, outliers.
pub fn audit(w: &Workdir) -> String {
    let Some(a) = &w.audit else {
        return missing(
            "audit (audit.json)",
            "run `pipeline audit --features WORKDIR/features --json WORKDIR/audit.json`",
        );
    };
    let mut o = format!(
        "<p>Every image of every split as the mean of its cached views; a {}-fold logistic model predicts each image without having seen it (out-of-fold top-1 {:.1} % on {} images).</p>",
        a.config.folds, a.oof_accuracy * 100.0, a.images
    );
    o += &label_errors(w, a);
    o += &hard_images(w, a);
    let cross = a.near_duplicates.iter().filter(|d| d.cross_split).count();
    let _ = write!(o, "<h3>Near-duplicates: {} pairs, {cross} across splits</h3><p>{}</p><p class=\"note\">Copies that byte hashes miss. Cross-split pairs leak test images into training.</p>", a.near_duplicates.len(), esc(&explain::duplicates(a)));
    let mut dups: Vec<_> = a.near_duplicates.iter().collect();
    dups.sort_by_key(|d| !d.cross_split);
    o += "<div class=\"cards\">";
    for d in dups.iter().take(AUDIT_ROWS / 2) {
        let mut flag = String::new();
        if d.cross_split {
            flag += "<div class=\"bad\">CROSS-SPLIT</div>";
        }
        if d.label_conflict {
            flag += "<div class=\"bad\">TWO CLASSES</div>";
        }
        let _ = write!(
            o,
            "<div class=\"pair\">{}{}</div>",
            card(
                w,
                &d.a,
                &format!(
                    "<div>cosine {:.3}, pixels {}</div><div>ratio {:.2} ({})</div>{flag}",
                    d.similarity,
                    d.pixel_similarity.map_or("-".into(), |p| format!("{p:.3}")),
                    d.ratio,
                    d.evidence
                )
            ),
            card(w, &d.b, "")
        );
    }
    o += "</div>";
    if a.near_duplicates.len() > AUDIT_ROWS / 2 {
        o += &table(
            &[
                "a",
                "b",
                "ratio",
                "cosine",
                "pixels",
                "evidence",
                "cross split",
            ],
            a.near_duplicates
                .iter()
                .map(|d| {
                    vec![
                        Cell::text(&d.a),
                        Cell::text(&d.b),
                        Cell::num(f64::from(d.ratio), format!("{:.2}", d.ratio)),
                        Cell::num(f64::from(d.similarity), format!("{:.3}", d.similarity)),
                        Cell::text(d.pixel_similarity.map_or("-".into(), |p| format!("{p:.3}"))),
                        Cell::text(d.evidence.as_str()),
                        Cell::text(if d.cross_split { "yes" } else { "" }),
                    ]
                })
                .collect(),
            true,
        );
    }
    let _ = write!(
        o,
        "<h3>Outliers: {}</h3><p>{}</p><div class=\"cards\">",
        a.outliers.len(),
        esc(&explain::outliers(a))
    );
    for x in a.outliers.iter().take(AUDIT_ROWS) {
        o += &card(
            w,
            &x.path,
            &format!(
                "<div>class <b>{}</b>, nearest centre {}</div><div>distance {:.3}, z {:.1}</div>",
                esc(&x.class),
                esc(&x.nearest),
                x.score,
                x.z
            ),
        );
    }
    o + "</div>"
}

/// The likely label errors, as cards and (past [`AUDIT_ROWS`]) a table.
fn label_errors(w: &Workdir, a: &AuditReport) -> String {
    if a.schema_version < crate::audit::AUDIT_SCHEMA {
        let mut o = format!("<h3>Doubted labels: {} listed of {} found</h3><p>{}</p><p class=\"note\">This audit.json was written by an older pipeline, which did not tell likely label errors from hard images: most of these are probably correct labels the model finds hard. Rerun <code>pipeline audit --features WORKDIR/features --json WORKDIR/audit.json</code> to split them.</p>", a.label_issues.len(), a.label_check.found, esc(&explain::labels(a)));
        o += &issue_cards(w, &a.label_issues, "suggested", false);
        return o;
    }
    let mut o = format!("<h3>Likely label errors: {} listed of {} found</h3><p>{}</p><p class=\"note\">Score = p(suggested) − p(given), out of fold. Check each photo: move it to the suggested class's folder if it belongs there.</p>", a.label_issues.len(), a.label_check.errors, esc(&explain::labels(a)));
    o += &issue_cards(w, &a.label_issues, "suggested", true);
    o
}

/// The hard images: doubts nothing else backs, most likely correctly labelled.
fn hard_images(w: &Workdir, a: &AuditReport) -> String {
    if a.schema_version < crate::audit::AUDIT_SCHEMA {
        return String::new();
    }
    let mut o = format!(
        "<h3>Hard images: {} listed of {} found</h3><p>{}</p>",
        a.hard_images.len(),
        a.label_check.hard,
        esc(&explain::hard(a))
    );
    o += &issue_cards(w, &a.hard_images, "taken for", true);
    o
}

/// Cards for the first [`AUDIT_ROWS`] issues, then a table of all of them when there are more;
/// `evidence`: the file records the neighbours and near-duplicate of each (schema 2 on).
fn issue_cards(w: &Workdir, issues: &[LabelIssue], other: &str, evidence: bool) -> String {
    let mut o = String::from("<div class=\"cards\">");
    for i in issues.iter().take(AUDIT_ROWS) {
        let why = match &i.duplicate_of {
            _ if !evidence => String::new(),
            Some(d) => format!("<div>near-duplicate {} is filed there</div>", esc(d)),
            None => format!(
                "<div>{} of its {} nearest photos are filed there</div>",
                i.neighbours_suggested,
                crate::audit::KNN
            ),
        };
        o += &card(w, &i.path, &format!("<div>given <b>{}</b> {:.0} %</div><div class=\"bad\">{other} <b>{}</b> {:.0} %</div><div>score {:.2}</div>{why}", esc(&i.given), i.p_given * 100.0, esc(&i.suggested), i.p_suggested * 100.0, i.score));
    }
    o += "</div>";
    if issues.len() > AUDIT_ROWS {
        o += &table(
            &["path", "given", other, "score"],
            issues
                .iter()
                .map(|i| {
                    vec![
                        Cell::text(&i.path),
                        Cell::text(&i.given),
                        Cell::text(&i.suggested),
                        Cell::num(f64::from(i.score), format!("{:.3}", i.score)),
                    ]
                })
                .collect(),
            true,
        );
    }
    o
}
