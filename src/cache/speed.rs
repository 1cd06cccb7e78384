//! What a cache says of its extract: rows computed per image, images/s, and the backbone's name.

use super::FeatureCache;

impl FeatureCache {
    /// Rows the extract computes per image: every plan's passes over its images (deterministic
    /// views, augmented passes, side plans), per image of the splits (12 for dense views).
    pub fn rows_per_image(&self) -> f64 {
        let spec = &self.manifest.spec;
        let rows: usize = spec
            .plans()
            .map(|p| p.passes as usize * p.images.len())
            .sum();
        let images: usize = spec.splits.iter().map(|p| p.images.len()).sum();
        rows as f64 / images.max(1) as f64
    }

    /// Extract speed in images/s: the manifest's views/s ÷ [`rows_per_image`](Self::rows_per_image);
    /// `None` where the manifest records no speed.
    pub fn images_per_sec(&self) -> Option<f64> {
        let vps = self.manifest.stats.views_per_sec;
        (vps > 0.0).then(|| vps / self.rows_per_image())
    }

    /// The backbone file's stem (`vgg16-conv-int8`), else the backbone hash's first 12 digits.
    pub fn backbone_label(&self) -> String {
        std::path::Path::new(&self.manifest.stats.model_path)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| self.backbone_hash().chars().take(12).collect())
    }
}
