//! How an image becomes feature rows: the views of an image ([`views`]: one [`views::View`]
//! type, parsed once from a cache plan or a trained run), dense views pooled from one
//! backbone pass ([`dense`]), the extract engine that batches images through the backbone into
//! the cache directory and keeps its lifecycle ([`extract`]), and the mean over a run's views of
//! new images for `predict` ([`mean`]). `extract`, `predict` and the export graph take their view
//! description from here; nothing here knows the command line.

pub mod dense;
pub mod extract;
pub mod mean;
pub mod views;
