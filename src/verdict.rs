//! The verdict: what an evaluation means for the person with the photos, in plain sentences —
//! how often the classifier is right with a 95 % range, against guessing, which classes are weak
//! and what to do about them, and which classes were left out.

use crate::metrics::Metrics;
use serde::{Deserialize, Serialize};

/// z of a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;
/// A class is called weak when fewer than this share of its test photos are right…
pub const WEAK_TOP1: f64 = 0.5;
/// …and it has at least this many test photos (one photo cannot tell a weak class).
pub const WEAK_MIN_TEST: usize = 2;
/// Below this many test photos the interval is wide enough to say so.
const FEW_TEST: usize = 100;
/// The verdict's file in an eval directory (`RUN/eval-SPLIT/verdict.json`).
pub const VERDICT_FILE: &str = "verdict.json";
/// Training photos under which a class is named as short of photos, by default.
pub const MIN_TRAIN: usize = 10;
/// Classes named per sentence before "and N more".
const NAMED: usize = 6;

/// Wilson score interval of `k` successes in `n` trials at 95 %: `(low, high)` in [0, 1].
/// `n = 0` gives `(0, 1)`: nothing is known.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p) = (n as f64, k as f64 / n as f64);
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A class the verdict names: weak on test, or short of training photos, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassNote {
    pub class: String,
    /// Test photos right, of `test`.
    pub right: usize,
    pub test: usize,
    pub train: usize,
    /// The class its test photos were most often taken for, if any was wrong.
    pub taken_for: Option<String>,
}

/// A class folder that was not used, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftOut {
    pub class: String,
    pub images: usize,
}

/// How far the result is from guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grade {
    /// The 95 % range reaches down to guessing.
    NotBetterThanGuessing,
    /// Better than guessing, wrong on more than one photo in ten.
    Useful,
    /// Right on at least 90 % with the range's low end at 80 % or more.
    Good,
}

/// Everything the verdict says, as data (the run record keeps it; summaries render it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The evaluated split (`test` for held-out photos).
    pub split: String,
    pub right: usize,
    pub images: usize,
    pub accuracy: f64,
    /// Wilson 95 % interval of `accuracy`.
    pub low: f64,
    pub high: f64,
    pub classes: usize,
    /// Accuracy of always answering the split's most common class, and that class.
    pub chance: f64,
    pub chance_class: String,
    pub grade: Grade,
    /// Top-k right (k = 5) where k < classes; absent where it would be right by construction.
    pub top5: Option<f64>,
    /// Most-confused pairs, truth → predicted, with counts (at most 3).
    pub confused: Vec<(String, String, usize)>,
    /// Classes with at least [`WEAK_MIN_TEST`] test photos, right on fewer than half, worst first.
    pub weak: Vec<ClassNote>,
    /// Classes with fewer than `min_train` training photos, fewest first.
    pub few_photos: Vec<ClassNote>,
    pub min_train: usize,
    pub left_out: Vec<LeftOut>,
    /// Fewest usable images a class needs to be used (one per split).
    pub min_images: usize,
    /// Photos of this split (all of known classes) `predict` would mark unknown, where the run
    /// has a novelty score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<UnknownRate>,
}

/// How many photos of known classes the unknown-photo flag marks, against its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnknownRate {
    pub flagged: usize,
    pub images: usize,
    /// The share of known photos the threshold was calibrated to flag at most.
    pub target_rate: f64,
}

impl Verdict {
    /// The verdict of `m`, computed on `split`. `left_out` are class folders the split did not
    /// place (fewer than `min_images` usable images); `min_train` is the training-photo count under
    /// which a class is named as short of photos.
    pub fn new(
        m: &Metrics,
        split: &str,
        left_out: Vec<LeftOut>,
        min_images: usize,
        min_train: usize,
    ) -> Verdict {
        let classes = m.confusion.len();
        let right = (m.top1 * m.images as f64).round() as usize;
        let (low, high) = wilson(right, m.images);
        let (chance_count, chance_class) = m
            .per_class
            .iter()
            .map(|c| (c.count, c.class.clone()))
            .fold((0, String::new()), |a, b| {
                // most photos; among equals, the first name
                if b.0 > a.0 || (b.0 == a.0 && b.1 < a.1) {
                    b
                } else {
                    a
                }
            });
        let chance = if m.images == 0 {
            0.0
        } else {
            chance_count as f64 / m.images as f64
        };
        let note = |c: &crate::metrics::ClassResult| ClassNote {
            class: c.class.clone(),
            right: (c.top1 * c.count as f64).round() as usize,
            test: c.count,
            train: c.train_count,
            taken_for: m
                .most_confused
                .iter()
                .find(|x| x.truth == c.class)
                .map(|x| x.predicted.clone()),
        };
        let weak: Vec<ClassNote> = m
            .per_class
            .iter()
            .filter(|c| c.count >= WEAK_MIN_TEST && c.top1 < WEAK_TOP1)
            .map(note)
            .collect();
        let mut few_photos: Vec<ClassNote> = m
            .per_class
            .iter()
            .filter(|c| c.train_count < min_train)
            .map(note)
            .collect();
        few_photos.sort_by(|a, b| a.train.cmp(&b.train).then(a.class.cmp(&b.class)));
        let grade = if low <= chance {
            Grade::NotBetterThanGuessing
        } else if m.top1 >= 0.9 && low >= 0.8 {
            Grade::Good
        } else {
            Grade::Useful
        };
        Verdict {
            split: split.to_string(),
            right,
            images: m.images,
            accuracy: m.top1,
            low,
            high,
            classes,
            chance,
            chance_class,
            grade,
            top5: m.top5_meaningful().then_some(m.top5),
            confused: m
                .most_confused
                .iter()
                .take(3)
                .map(|c| (c.truth.clone(), c.predicted.clone(), c.count))
                .collect(),
            weak,
            few_photos,
            min_train,
            left_out,
            min_images,
            unknown: None,
        }
    }

    /// Plain sentences, most important first: how often right, against guessing, what to do.
    pub fn sentences(&self) -> Vec<String> {
        let mut s = Vec::new();
        let held = if self.split == "test" {
            "held-out test photos".to_string()
        } else {
            format!("{} photos", self.split)
        };
        s.push(format!(
            "Right on {} of {} {held}: {} (95 % range {}–{}).",
            self.right,
            self.images,
            pct(self.accuracy),
            pct(self.low),
            pct(self.high)
        ));
        s.push(format!(
            "Guessing would be right {} of the time (always answering \"{}\", the most common of the {} classes).",
            pct(self.chance),
            self.chance_class,
            self.classes
        ));
        s.push(self.grade_sentence());
        if self.images < FEW_TEST && self.images > 0 {
            s.push(format!(
                "Only {} {} photos: the range is wide; more photos per class narrow it.",
                self.images, self.split
            ));
        }
        if !self.confused.is_empty() {
            let pairs: Vec<String> = self
                .confused
                .iter()
                .map(|(t, p, n)| format!("{t} taken for {p} ({n}×)"))
                .collect();
            s.push(format!("Most often confused: {}.", pairs.join(", ")));
        }
        if !self.weak.is_empty() {
            let w: Vec<String> = self
                .weak
                .iter()
                .map(|c| {
                    let mut t = format!("{} ({} of {} right", c.class, c.right, c.test);
                    if let Some(o) = &c.taken_for {
                        t += &format!(", often taken for {o}");
                    }
                    t + ")"
                })
                .collect();
            s.push(format!(
                "Weak classes: {}. Add varied photos of them, and check their photos show what the folder name says.",
                named(&w)
            ));
        }
        if !self.few_photos.is_empty() {
            let f: Vec<String> = self
                .few_photos
                .iter()
                .map(|c| format!("{} ({})", c.class, c.train))
                .collect();
            if 2 * self.few_photos.len() > self.classes {
                s.push(format!(
                    "{} of the {} classes have fewer than {} training photos (fewest: {}): adding photos to every folder will help most.",
                    self.few_photos.len(),
                    self.classes,
                    self.min_train,
                    f[..f.len().min(4)].join(", ")
                ));
            } else {
                s.push(format!(
                    "Few training photos (under {}): {}. Add photos to these folders; accuracy usually grows with them.",
                    self.min_train,
                    named(&f)
                ));
            }
        }
        for l in &self.left_out {
            s.push(left_out_sentence(&l.class, l.images, self.min_images));
        }
        if let Some(u) = &self.unknown {
            s.push(format!(
                "`predict` marks photos unlike the training photos as unknown: it would mark {} of these {} photos of known classes (aim: at most {}).",
                u.flagged,
                u.images,
                pct(u.target_rate)
            ));
        }
        s
    }

    fn grade_sentence(&self) -> String {
        match self.grade {
            Grade::NotBetterThanGuessing => "Not clearly better than guessing: add photos to every class, or check that each folder holds one kind of thing.".into(),
            Grade::Good if self.right == self.images => format!(
                "Good: it got every {} photo right; on photos like these expect at most {} wrong.",
                self.split,
                pct(1.0 - self.low)
            ),
            Grade::Good => format!(
                "Good: on photos like these it will be wrong about 1 time in {}.",
                one_in(self.accuracy)
            ),
            Grade::Useful => format!(
                "Clearly better than guessing, but wrong about 1 time in {} on photos like these.",
                one_in(self.accuracy)
            ),
        }
    }
}

/// What `split.json` says about class folders it did not place (the fields the verdict needs).
#[derive(Debug, Deserialize)]
struct SplitLeftOut {
    left_out: Vec<LeftOut>,
    min_images: usize,
}

/// The class folders the split in `split_dir` left out, and the fewest images a class needs;
/// `None` where `split_dir/split.json` is missing or unreadable.
pub fn left_out_of(split_dir: &std::path::Path) -> Option<(Vec<LeftOut>, usize)> {
    let path = split_dir.join("split.json");
    let text = crate::file_check::read_to_string(&path, crate::file_check::MAX_JSON).ok()?;
    let s: SplitLeftOut = serde_json::from_str(&text).ok()?;
    Some((s.left_out, s.min_images))
}

/// The sentence for a class folder that was not used.
pub fn left_out_sentence(class: &str, images: usize, min_images: usize) -> String {
    let need = min_images.saturating_sub(images);
    format!(
        "Left out \"{}\": {} usable image{}; a class needs at least {min_images}, one per split (train, valid, test) — add {need} photo{} or remove the folder.",
        class,
        images,
        if images == 1 { "" } else { "s" },
        if need == 1 { "" } else { "s" }
    )
}

fn one_in(accuracy: f64) -> String {
    let err = 1.0 - accuracy;
    if err <= 0.0 {
        return "many".into();
    }
    format!("{:.0}", (1.0 / err).max(1.0))
}

fn named(items: &[String]) -> String {
    if items.len() <= NAMED {
        return items.join(", ");
    }
    format!(
        "{} and {} more",
        items[..NAMED].join(", "),
        items.len() - NAMED
    )
}

/// A share as a percentage with one decimal below 10 % and none above.
pub fn pct(x: f64) -> String {
    let p = x * 100.0;
    if p > 0.0 && p < 10.0 {
        format!("{p:.1} %")
    } else {
        format!("{p:.0} %")
    }
}

#[cfg(test)]
mod tests;
