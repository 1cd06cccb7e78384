use super::*;
use ndarray::array;

const CLOSE: f32 = 1e-6;

#[test]
fn knn_score_is_one_minus_the_mean_of_the_k_largest_cosines() {
    // Reference: the x axis, the y axis, and 45° between them.
    let h = std::f32::consts::FRAC_1_SQRT_2;
    let r = array![[1.0f32, 0.0], [0.0, 1.0], [h, h]];
    let q = array![[1.0f32, 0.0], [-1.0, 0.0], [0.0, 2.0]];
    let one = knn_scores(q.view(), r.view(), 1, false);
    // [1,0]: nearest itself (cos 1); [-1,0]: nearest the y axis (cos 0); [0,1]: itself.
    assert!((one[0] - 0.0).abs() < CLOSE && (one[1] - 1.0).abs() < CLOSE);
    let mut q2 = q.clone();
    crate::head::input::l2_normalize_rows(&mut q2);
    let two = knn_scores(q2.view(), r.view(), 2, false);
    // [1,0]: cosines 1 and h → 1 − (1 + h)/2; [-1,0]: cosines 0 and −h → 1 + h/2.
    assert!((two[0] - (1.0 - (1.0 + h) / 2.0)).abs() < CLOSE, "{two:?}");
    assert!((two[1] - (1.0 + h / 2.0)).abs() < CLOSE, "{two:?}");
    assert!((two[2] - (1.0 - (1.0 + h) / 2.0)).abs() < CLOSE, "{two:?}");
}

#[test]
fn leave_one_out_skips_the_row_itself() {
    let r = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.0]];
    // Row 0 and 2 are each other's neighbour (cos 1); row 1's nearest other is cos 0.
    assert_eq!(knn_scores(r.view(), r.view(), 1, true), vec![0.0, 1.0, 0.0]);
    assert_eq!(
        knn_scores(r.view(), r.view(), 1, false),
        vec![0.0, 0.0, 0.0]
    );
}

#[test]
fn threshold_flags_at_most_the_target_rate() {
    let s: Vec<f32> = (1..=100).map(|i| i as f32).collect();
    // 95 of 100 at or below: 96..=100 (5) above.
    assert_eq!(quantile_threshold(&s, 0.05), 95.0);
    // 10 scores: 5 % of 10 is half a photo, so none may be flagged.
    let ten: Vec<f32> = (1..=10).map(|i| i as f32).collect();
    assert_eq!(quantile_threshold(&ten, 0.05), 10.0);
    assert_eq!(quantile_threshold(&ten, 0.2), 8.0);
    assert_eq!(quantile_threshold(&[], 0.05), f32::INFINITY);
}

#[test]
fn fit_calibrates_on_left_out_images_and_flags_a_far_photo() {
    // Two tight clusters of 20 in 3-D; a query along the third axis is far from both.
    let mut x = Array2::<f32>::zeros((40, 3));
    for i in 0..20 {
        let e = 0.01 * i as f32;
        x.row_mut(i).assign(&array![1.0, e, 0.0]);
        x.row_mut(20 + i).assign(&array![e, 1.0, 0.0]);
    }
    let n = Novelty::fit(x.view(), 1).unwrap();
    assert_eq!(n.calibration.images, 40);
    assert!(n.calibration.flagged <= 2, "{:?}", n.calibration);
    let s = n.scores(array![[0.0f32, 0.0, 1.0], [2.0, 0.05, 0.0]].view());
    assert!((s[0] - 1.0).abs() < CLOSE, "{s:?}");
    assert!(
        n.is_unknown(s[0]) && !n.is_unknown(s[1]),
        "{s:?} vs {}",
        n.threshold
    );
    // A scaled copy of a training row scores as that row: only the direction counts.
    assert!(s[1] < n.threshold);
}

#[test]
fn fit_refuses_fewer_images_than_neighbours_plus_one() {
    let x = array![[1.0f32, 0.0], [0.0, 1.0]];
    assert_eq!(
        Novelty::fit(x.view(), 2).unwrap_err(),
        FitError::TooFew { rows: 2, k: 2 }
    );
    assert!(Novelty::fit(x.view(), 1).is_ok());
}

#[test]
fn large_reference_sets_keep_every_step_th_image() {
    let d = 1 << 12;
    let rows = MAX_REFERENCE_VALUES / d + 10;
    let mut x = Array2::<f32>::zeros((rows, d));
    for i in 0..rows {
        x[[i, i % d]] = 1.0;
    }
    let n = Novelty::fit(x.view(), 1).unwrap();
    assert_eq!(n.calibration.available, rows);
    assert_eq!(n.calibration.images, rows.div_ceil(2));
    assert!(n.reference.len() <= MAX_REFERENCE_VALUES);
}

#[test]
fn file_round_trips_and_rejects_damage() {
    let dir = tempfile::tempdir().unwrap();
    let x = array![[1.0f32, 0.0], [0.0, 1.0], [1.0, 0.1]];
    let n = Novelty::fit(x.view(), 1).unwrap();
    write(dir.path(), &n, "key").unwrap();
    assert_eq!(read(dir.path(), 2, "key").unwrap(), Some(n.clone()));
    assert!(read(dir.path(), 3, "key").is_err());
    let other = read(dir.path(), 2, "other").unwrap_err().to_string();
    assert!(other.contains("another feature cache"), "{other}");
    let path = dir.path().join(NOVELTY_FILE);
    std::fs::write(&path, b"not a tensor file").unwrap();
    let e = read(dir.path(), 2, "key").unwrap_err().to_string();
    assert!(e.contains(NOVELTY_FILE), "{e}");
    std::fs::remove_file(&path).unwrap();
    assert_eq!(read(dir.path(), 2, "key").unwrap(), None);
}
