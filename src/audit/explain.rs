//! One or two sentences per finding kind saying what its threshold came out as on this data set, for the
//! table of `pipeline audit` and the report (plain text; the report escapes it).

use super::{verdict, AuditReport, LabelTrust};

/// Why these pairs are near-duplicates, with this data set's numbers.
pub fn duplicates(r: &AuditReport) -> String {
    let c = &r.duplicate_check;
    let mut s = format!(
        "A pair is flagged when the two images are at most {} × as far apart as either is from its {} nearest other image — in the backbone's features (here a typical image's nearest neighbour is at cosine {:.2})",
        c.ratio,
        ordinal(c.neighbour),
        c.feature_median_nn
    );
    match c.pixel_median_nn {
        Some(p) => s += &format!(
            " or in 16×16 colour thumbnails (typical nearest correlation {p:.2}, {} images compared)",
            c.pixel_images
        ),
        None => s += " (pixel check not run)",
    }
    s += ": the bar follows how alike this data set's images are, so photos of one kind taken the same way are not called copies, while resized, re-encoded, brightened or slightly cropped copies are.";
    if !c.pixel_note.is_empty() {
        s += &format!(" Pixels: {}.", c.pixel_note);
    }
    s
}

/// How far the label check can be trusted here, and what makes a doubt a likely label error.
pub fn labels(r: &AuditReport) -> String {
    let c = &r.label_check;
    let base = format!(
        "Out-of-fold top-1 is {:.1} % against {:.1} % for always answering the largest class (κ {:.2})",
        r.oof_accuracy * 100.0,
        c.chance * 100.0,
        c.kappa
    );
    let rule = format!(
        "a doubt is called a likely label error only when a near-duplicate of the photo is filed under the suggested class, or the model is sure of the other class and at least {} of the photo's {} most similar photos are filed there, in a class pair it otherwise keeps apart",
        verdict::KNN_AGREE,
        verdict::KNN
    );
    if r.schema_version < super::AUDIT_SCHEMA {
        return format!("{base}; this audit predates the split into label errors and hard images: all {} of the classifier's doubts are listed.", c.shown);
    }
    match c.trust {
        LabelTrust::Informative => format!(
            "{base}: the classifier is good enough on this data to judge labels. It doubts {} photos; {rule}: {} are, the other {} are hard images.",
            c.found, c.errors, c.hard
        ),
        LabelTrust::Weak => format!(
            "{base}: the classifier is weak on this data, so most of its {} doubts are its own errors; {rule}: {} are ({} listed), the other {} are hard images ({} listed).",
            c.found, c.errors, c.shown, c.hard, c.hard_shown
        ),
        LabelTrust::TooWeak => format!(
            "{base}: the classifier is too weak on this data for label checks to mean much; none of its {} doubts is listed (the classes may not be told apart by these features, or may not differ at all).",
            c.found
        ),
    }
}

/// What the hard images are and what would help.
pub fn hard(r: &AuditReport) -> String {
    let mut by_class: Vec<(&str, usize)> = Vec::new();
    for h in &r.hard_images {
        match by_class.iter_mut().find(|(c, _)| *c == h.given) {
            Some(e) => e.1 += 1,
            None => by_class.push((&h.given, 1)),
        }
    }
    by_class.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = by_class
        .iter()
        .take(5)
        .map(|(c, n)| format!("{c} ({n})"))
        .collect();
    if top.is_empty() {
        return "No photo is hard for the model beyond what the label errors explain.".into();
    }
    format!(
        "These are photos the model finds hard: it puts them in another class, but nothing else says the label is wrong (no copy filed there; or their nearest photos disagree, or the two classes are often confused), so they are most likely correctly labelled — a glance catches the odd one in the wrong folder. What would help is more and clearer photos of their classes, most of all {}, showing what sets each apart from the class it is taken for.",
        top.join(", ")
    )
}

/// Where the outlier bar came out.
pub fn outliers(r: &AuditReport) -> String {
    let c = &r.outlier_check;
    format!(
        "An image is an outlier when its distance to the nearest class centre (1 − cosine) is at least {} robust SDs above this data set's median: median {:.3}, robust SD {:.3}, so the bar is {:.3}.",
        r.config.outlier_z,
        c.median,
        c.robust_sd,
        c.median + r.config.outlier_z * c.robust_sd
    )
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "1st".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        n => format!("{n}th"),
    }
}
