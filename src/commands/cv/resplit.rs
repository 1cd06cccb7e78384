//! Seeded stratified re-splits: each class's images shuffled and cut by the fractions.

use rand::seq::SliceRandom;

/// `(train, valid, test)` image indices of repeat `repeat`: per class, a seeded shuffle cut at
/// `round(frac_train·n)` and `round((frac_train+frac_valid)·n)`, with at least one train image
/// per class that has one.
pub fn stratified(
    labels: &[u32],
    fractions: [f64; 3],
    seed: u64,
    repeat: u32,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let k = labels.iter().map(|&y| y as usize + 1).max().unwrap_or(0);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &y) in labels.iter().enumerate() {
        by_class[y as usize].push(i);
    }
    let total: f64 = fractions.iter().sum();
    let (ft, fv) = (fractions[0] / total, fractions[1] / total);
    let (mut tr, mut va, mut te) = (Vec::new(), Vec::new(), Vec::new());
    for (c, mut idx) in by_class.into_iter().enumerate() {
        let mut rng = crate::seed::rng(
            seed,
            &[b"cv", &repeat.to_le_bytes(), &(c as u64).to_le_bytes()],
        );
        idx.shuffle(&mut rng);
        let n = idx.len() as f64;
        let a = ((ft * n).round() as usize).clamp(idx.len().min(1), idx.len());
        let b = (((ft + fv) * n).round() as usize).clamp(a, idx.len());
        tr.extend_from_slice(&idx[..a]);
        va.extend_from_slice(&idx[a..b]);
        te.extend_from_slice(&idx[b..]);
    }
    (tr, va, te)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_each_class_by_the_fractions_and_depends_on_the_repeat() {
        let labels: Vec<u32> = (0..40).map(|i| (i % 2) as u32).collect();
        let (tr, va, te) = stratified(&labels, [50.0, 25.0, 25.0], 0, 0);
        assert_eq!((tr.len(), va.len(), te.len()), (20, 10, 10));
        for part in [&tr, &va, &te] {
            let ones = part.iter().filter(|&&i| labels[i] == 1).count();
            assert_eq!(ones * 2, part.len());
        }
        let mut all: Vec<usize> = tr.iter().chain(&va).chain(&te).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        assert_eq!(stratified(&labels, [2.0, 1.0, 1.0], 0, 0).0, tr);
        assert_ne!(stratified(&labels, [50.0, 25.0, 25.0], 0, 1).0, tr);
    }
}
