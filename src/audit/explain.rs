//! One sentence per finding kind saying what its threshold came out as on this data set, for the
//! table of `pipeline audit` and the report (plain text; the report escapes it).

use super::{AuditReport, LabelTrust};

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

/// How far the label check can be trusted here.
pub fn labels(r: &AuditReport) -> String {
    let c = &r.label_check;
    let base = format!(
        "Out-of-fold top-1 is {:.1} % against {:.1} % for always answering the largest class (κ {:.2})",
        r.oof_accuracy * 100.0,
        c.chance * 100.0,
        c.kappa
    );
    match c.trust {
        LabelTrust::Informative => format!(
            "{base}: the classifier is good enough on this data for its doubts to point at labels; all {} images it doubts are listed.",
            c.found
        ),
        LabelTrust::Weak => format!(
            "{base}: the classifier is weak on this data, so most of its {} doubts are its own errors; only the {} it doubts most are listed, as images to look at rather than label errors.",
            c.found, c.shown
        ),
        LabelTrust::TooWeak => format!(
            "{base}: the classifier is too weak on this data for label checks to mean much; none of its {} doubts is listed (the classes may not be told apart by these features, or may not differ at all).",
            c.found
        ),
    }
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
