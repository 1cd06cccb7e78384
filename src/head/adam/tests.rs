//! Adam against closed-form steps and layouts, and the flush of tiny moments.

use super::*;
use ndarray::{arr1, Array, Array1, Dimension};

/// One `Adam::update` of four parameters from four gradients.
fn step<F: Float, D: Dimension>(
    adam: &mut Adam<F>,
    p: &mut [Array<F, D>; 4],
    g: &[Array<F, D>; 4],
) {
    let [a, b, c, d] = p;
    let [e, f, h, i] = g;
    adam.update(
        [
            a.view_mut().into_dyn(),
            b.view_mut().into_dyn(),
            c.view_mut().into_dyn(),
            d.view_mut().into_dyn(),
        ],
        [
            e.view().into_dyn(),
            f.view().into_dyn(),
            h.view().into_dyn(),
            i.view().into_dyn(),
        ],
    );
}

/// A column-major parameter (the MLP's `0.weight`) with row-major moments (fresh, or read
/// from a checkpoint) and a gradient of either layout takes the same steps as row-major.
#[test]
fn column_major_parameters_step_as_row_major_ones() {
    use ndarray::{Array2, ShapeBuilder};
    let mut rng = crate::seed::rng(3, &[b"adam-layout"]);
    let rand = |rng: &mut rand_chacha::ChaCha8Rng| {
        use rand::Rng;
        Array2::<f32>::from_shape_simple_fn((3, 5), || rng.gen_range(-1.0..1.0))
    };
    let fortran = |a: &Array2<f32>| {
        let mut f = Array2::zeros(a.raw_dim().f());
        f.assign(a);
        f
    };
    let p0 = rand(&mut rng);
    let grads: Vec<Array2<f32>> = (0..4).map(|_| rand(&mut rng)).collect();
    let mut row = [
        p0.clone(),
        Array2::zeros((1, 1)),
        Array2::zeros((1, 1)),
        Array2::zeros((1, 1)),
    ];
    let mut col = row.clone();
    col[0] = fortran(&p0);
    let shapes: [&[usize]; 4] = [&[3, 5], &[1, 1], &[1, 1], &[1, 1]];
    let mut a_row = Adam::new(AdamConfig::default(), &shapes);
    let mut a_col = Adam::new(AdamConfig::default(), &shapes);
    let zero = Array2::<f32>::zeros((1, 1));
    for (t, g) in grads.iter().enumerate() {
        let g_col = if t % 2 == 0 { fortran(g) } else { g.clone() };
        for (params, adam, g) in [(&mut row, &mut a_row, g), (&mut col, &mut a_col, &g_col)] {
            step(
                adam,
                params,
                &[g.clone(), zero.clone(), zero.clone(), zero.clone()],
            );
        }
    }
    assert!(
        col[0].t().is_standard_layout(),
        "the parameter kept its layout"
    );
    assert_eq!(row[0], col[0]);
    assert_eq!(a_row.m[0], a_col.m[0]);
    assert_eq!(a_row.v[0], a_col.v[0]);
}

/// First step: m̂ = g, v̂ = g², so θ moves by −lr·g/(|g|+ε) ≈ −lr·sign(g).
#[test]
fn first_step_moves_by_lr_times_sign() {
    let mut p: [Array1<f64>; 4] = [arr1(&[1.0, -2.0]), arr1(&[0.5]), arr1(&[0.0]), arr1(&[3.0])];
    let g: [Array1<f64>; 4] = [
        arr1(&[0.3, -4.0]),
        arr1(&[-1e-3]),
        arr1(&[2.0]),
        arr1(&[0.0]),
    ];
    let mut adam = Adam::new(AdamConfig::default(), &[&[2], &[1], &[1], &[1]]);
    let before = p.clone();
    step(&mut adam, &mut p, &g);
    for (k, (pa, pb)) in p.iter().zip(&before).enumerate() {
        for (j, (x, y)) in pa.iter().zip(pb).enumerate() {
            let gv = g[k][j];
            let expect = if gv == 0.0 {
                0.0
            } else {
                -1e-3 * gv / (gv.abs() + 1e-8)
            };
            assert!((x - y - expect).abs() < 1e-15, "param {k}[{j}]");
        }
    }
    assert_eq!(adam.step, 1);
}

/// A weight whose gradient is zero (a dead ReLU unit) has its first moment decay by β1 per
/// step; it must reach exactly zero, never sit among the subnormals (x86 computes those
/// through a microcode assist: epochs ran 3× slower), and moments of live weights are exact.
#[test]
fn decaying_moments_reach_zero_without_subnormals() {
    let mut p: [Array1<f32>; 4] = [arr1(&[0.5, 0.5]), arr1(&[0.0]), arr1(&[0.0]), arr1(&[0.0])];
    let mut adam = Adam::new(AdamConfig::default(), &[&[2], &[1], &[1], &[1]]);
    let mut zero_after = None;
    for t in 0..2000 {
        let g0 = if t == 0 { 1e-3 } else { 0.0 };
        let g: [Array1<f32>; 4] = [arr1(&[g0, 1e-3]), arr1(&[0.0]), arr1(&[0.0]), arr1(&[0.0])];
        step(&mut adam, &mut p, &g);
        let m = adam.m[0][[0]];
        assert!(!m.is_subnormal(), "step {t}: m = {m:e}");
        if m == 0.0 && zero_after.is_none() {
            zero_after = Some(t);
        }
    }
    // 1e-4·0.9^t < 2^24·f32::MIN_POSITIVE ≈ 2e-31 after ≈ 590 steps.
    let z = zero_after.expect("the dead weight's first moment reached zero");
    assert!((550..650).contains(&z), "{z}");
    let live = adam.m[0][[1]];
    assert!(
        (live - 1e-3).abs() < 1e-9,
        "a constant gradient's moment: {live}"
    );
}
