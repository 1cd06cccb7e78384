//! The human-readable `inspect` table.

use super::report::Quartiles;
use super::summary::Report;
use std::fmt::Write;

/// Renders the report as text; at most `max_problems` lines per problem kind.
pub fn render_table(r: &Report, max_problems: usize) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(
        o,
        "{} ({})",
        r.root,
        if r.layout == "split" {
            format!("split tree: {}", r.splits.join(", "))
        } else {
            "raw tree".to_string()
        }
    );
    let _ = writeln!(
        o,
        "{} files: {} images, {} unreadable; {} classes\n",
        r.files,
        r.images,
        r.unreadable_files,
        r.classes.len()
    );
    class_table(o, r);
    count_lines(o, r);
    size_lines(o, r);
    problem_lines(o, r, max_problems);
    out
}

fn class_table(o: &mut String, r: &Report) {
    let width = r
        .classes
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = write!(o, "{:<width$}", "class");
    for sp in &r.splits {
        let _ = write!(o, " {sp:>6}");
    }
    if r.splits.len() > 1 {
        let _ = write!(o, " {:>6}", "total");
    }
    let _ = writeln!(o, " {:>5}  {:>13}", "bad", "median w x h");
    for name in &r.counts.order {
        let Some(c) = r.classes.iter().find(|c| &c.name == name) else {
            continue;
        };
        let _ = write!(o, "{:<width$}", c.name);
        for sp in &r.splits {
            let _ = write!(o, " {:>6}", c.images[sp]);
        }
        if r.splits.len() > 1 {
            let _ = write!(o, " {:>6}", c.total);
        }
        let med = |q: Option<Quartiles>| q.map_or("-".to_string(), |q| format!("{:.0}", q.median));
        let size = format!("{} x {}", med(c.sizes.width), med(c.sizes.height));
        let _ = writeln!(o, " {:>5}  {:>13}", c.unreadable, size);
    }
    let _ = write!(o, "{:<width$}", "total");
    for sp in &r.splits {
        let _ = write!(o, " {:>6}", r.counts.per_split[sp]);
    }
    if r.splits.len() > 1 {
        let _ = write!(o, " {:>6}", r.images);
    }
    let _ = writeln!(o, " {:>5}\n", r.unreadable_files);
}

fn count_lines(o: &mut String, r: &Report) {
    let c = &r.counts;
    let ratio = c.imbalance_ratio.map_or("-".into(), |v| format!("{v:.1}"));
    let which = if c.split == "all" {
        String::new()
    } else {
        format!("{} ", c.split)
    };
    let _ = writeln!(
        o,
        "{which}images per class: min {}, median {}, max {}; imbalance max/min {} (non-empty classes)",
        c.min, c.median, c.max, ratio
    );
    if !c.under_threshold.is_empty() {
        let list: Vec<String> = c
            .under_threshold
            .iter()
            .map(|x| format!("{} ({})", x.class, x.images))
            .collect();
        let _ = writeln!(
            o,
            "under {} {which}images ({}): {}",
            c.threshold,
            list.len(),
            list.join(", ")
        );
    }
    if !c.missing.is_empty() {
        let list: Vec<String> = c
            .missing
            .iter()
            .map(|m| format!("{} ({})", m.class, m.split))
            .collect();
        let _ = writeln!(o, "missing from a split: {}", list.join(", "));
    }
    if !c.empty_classes.is_empty() {
        let _ = writeln!(
            o,
            "classes with no usable image: {}",
            c.empty_classes.join(", ")
        );
    }
    o.push('\n');
}

fn size_lines(o: &mut String, r: &Report) {
    let s = &r.sizes;
    let _ = writeln!(
        o,
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "size", "min", "q1", "median", "q3", "max"
    );
    let rows = [
        ("width (px)", s.overall.width, 0),
        ("height (px)", s.overall.height, 0),
        ("aspect (w/h)", s.overall.aspect, 2),
        ("megapixels", s.overall.megapixels, 4),
    ];
    for (name, q, d) in rows {
        match q {
            Some(q) => {
                let _ = writeln!(
                    o,
                    "{name:<14} {:>9.d$} {:>9.d$} {:>9.d$} {:>9.d$} {:>9.d$}",
                    q.min, q.q1, q.median, q.q3, q.max
                );
            }
            None => {
                let _ = writeln!(o, "{name:<14} {:>9}", "-");
            }
        }
    }
    let join = |m: &std::collections::BTreeMap<String, usize>| {
        let mut v: Vec<(&String, &usize)> = m.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(o, "formats: {}", join(&s.formats));
    let _ = writeln!(o, "colour types: {}", join(&s.colors));
    let _ = writeln!(
        o,
        "shorter side < 224 (smaller than the crop): {} of {}; < 256 (upscaled by the resize): {}; EXIF-rotated: {}\n",
        s.smaller_than_crop, r.images, s.upscaled_by_resize, s.rotated
    );
}

fn problem_lines(o: &mut String, r: &Report, max: usize) {
    if r.unreadable.is_empty() && r.duplicates.is_empty() {
        let _ = writeln!(o, "problems: none");
        return;
    }
    if !r.unreadable.is_empty() {
        let _ = writeln!(
            o,
            "unreadable files ({}, skipped by later stages):",
            r.unreadable.len()
        );
        for u in r.unreadable.iter().take(max) {
            let _ = writeln!(o, "  {}  [{}] {}", u.path, u.kind, u.reason);
        }
        more(o, r.unreadable.len(), max);
    }
    if !r.duplicates.is_empty() {
        let leaks = r.duplicates.iter().filter(|d| d.across_splits).count();
        let _ = writeln!(
            o,
            "exact duplicates ({} {}, {} across splits = leakage):",
            r.duplicates.len(),
            if r.duplicates.len() == 1 {
                "group"
            } else {
                "groups"
            },
            leaks
        );
        for d in r.duplicates.iter().take(max) {
            let mut tags = Vec::new();
            if d.across_splits {
                tags.push("across splits");
            }
            if d.across_classes {
                tags.push("across classes");
            }
            let tags = if tags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", tags.join(", "))
            };
            let _ = writeln!(o, "  {}{}", d.paths.join(" = "), tags);
        }
        more(o, r.duplicates.len(), max);
    }
}

fn more(o: &mut String, n: usize, max: usize) {
    if n > max {
        let _ = writeln!(o, "  ... {} more (see --json)", n - max);
    }
}
