use super::*;
use crate::metrics;
use ndarray::Array2;

/// Reference values: statsmodels `proportion_confint(k, n, method="wilson")`.
#[test]
fn wilson_matches_reference() {
    let close = |a: (f64, f64), b: (f64, f64)| {
        assert!(
            (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9,
            "{a:?} vs {b:?}"
        )
    };
    close(
        wilson(49, 64),
        (0.648_667_424_174_313_6, 0.852_501_044_060_758_6),
    );
    close(wilson(0, 10), (0.0, 0.277_532_799_862_889_2));
    close(wilson(10, 10), (0.722_467_200_137_110_7, 1.0));
    close(
        wilson(50, 100),
        (0.403_831_530_365_995_6, 0.596_168_469_634_004_4),
    );
    assert_eq!(wilson(0, 0), (0.0, 1.0));
}

/// Metrics of `truth → predicted` pairs over `classes`, with the given train counts.
fn metrics_of(pairs: &[(u32, usize)], classes: &[&str], train: &[usize]) -> Metrics {
    let k = classes.len();
    let mut lp = Array2::<f32>::from_elem((pairs.len(), k), (0.1f32 / k as f32).ln());
    let labels: Vec<u32> = pairs.iter().map(|p| p.0).collect();
    for (i, &(_, g)) in pairs.iter().enumerate() {
        lp[[i, g]] = 0.9f32.ln();
    }
    let names: Vec<String> = classes.iter().map(|s| s.to_string()).collect();
    metrics::compute(lp.view(), &labels, &names, train)
}

#[test]
fn names_weak_and_small_classes_and_what_to_do() {
    // cats: 4 of 4 right; dogs: 1 of 4 right, taken for cats; fish: 2 of 2 right.
    let pairs = [
        (0, 0),
        (0, 0),
        (0, 0),
        (0, 0),
        (1, 1),
        (1, 0),
        (1, 0),
        (1, 0),
        (2, 2),
        (2, 2),
    ];
    let m = metrics_of(&pairs, &["cats", "dogs", "fish"], &[20, 20, 4]);
    let left = vec![LeftOut {
        class: "birds".into(),
        images: 1,
    }];
    let v = Verdict::new(&m, "test", left, 3, 10);
    assert_eq!((v.right, v.images), (7, 10));
    assert_eq!(v.chance_class, "cats");
    assert!((v.chance - 0.4).abs() < 1e-12);
    assert_eq!(v.top5, None, "3 classes: top-5 is right by construction");
    assert_eq!(v.weak.len(), 1);
    assert_eq!(v.weak[0].class, "dogs");
    assert_eq!(v.weak[0].taken_for.as_deref(), Some("cats"));
    assert_eq!(v.few_photos.len(), 1);
    assert_eq!(v.few_photos[0].class, "fish");
    let text = v.sentences().join("\n");
    assert!(
        text.contains("Right on 7 of 10 held-out test photos: 70 % (95 % range 40 %–89 %)"),
        "{text}"
    );
    assert!(
        text.contains("Guessing would be right 40 % of the time"),
        "{text}"
    );
    assert!(
        text.contains("dogs (1 of 4 right, often taken for cats)"),
        "{text}"
    );
    assert!(text.contains("fish (4)"), "{text}");
    assert!(
        text.contains("Left out \"birds\": 1 usable image; a class needs at least 3, one per split (train, valid, test) — add 2 photos or remove the folder."),
        "{text}"
    );
    assert!(text.contains("Only 10 test photos"), "{text}");
}

#[test]
fn a_range_down_to_guessing_is_not_better_than_guessing() {
    // 3 of 5 right where always answering "a" is right 3 of 5 times.
    let pairs = [(0, 0), (0, 0), (0, 0), (1, 0), (1, 0)];
    let m = metrics_of(&pairs, &["a", "b"], &[10, 10]);
    let v = Verdict::new(&m, "test", Vec::new(), 3, 10);
    assert_eq!(v.grade, Grade::NotBetterThanGuessing);
    assert!(v
        .sentences()
        .join(" ")
        .contains("Not clearly better than guessing"));
}

#[test]
fn top5_only_with_more_than_five_classes() {
    let classes = ["a", "b", "c", "d", "e", "f"];
    let pairs: Vec<(u32, usize)> = (0..60).map(|i| ((i % 6) as u32, i % 6)).collect();
    let m = metrics_of(&pairs, &classes, &[30; 6]);
    let v = Verdict::new(&m, "test", Vec::new(), 3, 10);
    assert_eq!(v.top5, Some(1.0));
    assert_eq!(v.grade, Grade::Good);
    assert!(
        v.sentences()[2].contains("every test photo right"),
        "{:?}",
        v.sentences()
    );
}

#[test]
fn one_test_photo_does_not_make_a_class_weak_and_most_classes_short_is_said_once() {
    // a: 3 of 3 right; b: its one test photo wrong; c: 2 of 2 right. Train counts 2, 3, 30.
    let pairs = [(0, 0), (0, 0), (0, 0), (1, 0), (2, 2), (2, 2)];
    let m = metrics_of(&pairs, &["a", "b", "c"], &[2, 3, 30]);
    let v = Verdict::new(&m, "test", Vec::new(), 3, 10);
    assert!(v.weak.is_empty(), "{:?}", v.weak);
    let text = v.sentences().join("\n");
    assert!(text.contains("b taken for a (1×)"), "{text}");
    assert!(
        text.contains("2 of the 3 classes have fewer than 10 training photos (fewest: a (2), b (3)): adding photos to every folder will help most."),
        "{text}"
    );
}
