//! Part `dataset`: scan ImageFolder trees (`DIR/<class>/*` and `DIR/{train,valid,test}/<class>/*`).
//!
//! Classes are the non-hidden sub-folders of a split (or raw) root, sorted by name (byte order,
//! as torchvision's `ImageFolder`). Items are every non-hidden regular file below a class folder,
//! **recursively** (sub-folders up to [`MAX_DEPTH`] deep; symbolic links are followed), with no
//! filter on the extension: images are recognised by content when probed or decoded. A dangling
//! symbolic link is kept as an item of 0 bytes so that probing reports it. Empty class folders are
//! kept in the class list.

pub mod files;

use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Split folder names, in canonical order.
pub const SPLITS: [&str; 3] = ["train", "valid", "test"];

/// Deepest sub-folder level searched below a class folder.
pub const MAX_DEPTH: usize = 16;

/// One file of a class.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Item {
    /// Path relative to the split (or raw) root, '/'-separated, e.g. "cat/001.jpg".
    pub rel_path: String,
    /// Index into the class list.
    pub label: usize,
    /// File size in bytes.
    pub bytes: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl Item {
    /// The file's full path below `root` (a split or raw root).
    pub fn path(&self, root: &Path) -> PathBuf {
        root.join(&self.rel_path)
    }
}

/// A scanned split tree.
#[derive(Debug, Clone)]
pub struct SplitTree {
    pub root: PathBuf,
    /// Sorted union of the class folders of every split.
    pub classes: Vec<String>,
    /// `(split name, items)` in [`SPLITS`] order, only the splits present; items sorted by
    /// `rel_path`; labels index `classes`.
    pub splits: Vec<(String, Vec<Item>)>,
}

impl SplitTree {
    /// The items of split `name`, if that split exists.
    pub fn split(&self, name: &str) -> Option<&[Item]> {
        self.splits
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, items)| items.as_slice())
    }

    /// The folder of split `name`.
    pub fn split_root(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// Why a tree cannot be scanned.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{}: not a directory; give the dataset's root folder", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{}: cannot read ({source})", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no class folders (found {loose_files} files directly inside); expected DIR/<class>/<image files>", root.display())]
    NoClasses { root: PathBuf, loose_files: usize },
    #[error("{}: no split folder (train, valid or test); for an unsplit DIR/<class>/* tree run `pipeline split` first", root.display())]
    NoSplits { root: PathBuf },
    #[error("{}: the name is not valid UTF-8; rename it", path.display())]
    NonUtf8 { path: PathBuf },
    #[error("{}: an interrupted `pipeline split` left this split tree incomplete ({INCOMPLETE_SPLIT} is still there); rerun the same split (with --force) before using it", root.display())]
    IncompleteSplit { root: PathBuf },
}

/// Marker `pipeline split` creates before placing files and removes after `split.json`: a split
/// tree holding it is incomplete and is refused by every reader.
pub const INCOMPLETE_SPLIT: &str = ".split-incomplete";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// True when `root` holds at least one of `train`, `valid`, `test` as a folder and no other
/// non-hidden folder (so a raw tree with a class called "train" next to other classes is raw).
pub fn is_split_tree(root: &Path) -> bool {
    match list_dirs(root) {
        Ok(dirs) => !dirs.is_empty() && dirs.iter().all(|d| SPLITS.contains(&d.as_str())),
        Err(_) => false,
    }
}

/// Scans `DIR/{train,valid,test}/<class>/*`.
pub fn scan_split_tree(root: &Path) -> Result<SplitTree, DatasetError> {
    require_dir(root)?;
    if root.join(INCOMPLETE_SPLIT).exists() {
        return Err(DatasetError::IncompleteSplit {
            root: root.to_path_buf(),
        });
    }
    let present: Vec<&str> = SPLITS
        .into_iter()
        .filter(|s| root.join(s).is_dir())
        .collect();
    if present.is_empty() {
        return Err(DatasetError::NoSplits {
            root: root.to_path_buf(),
        });
    }
    let mut per_split = Vec::new();
    for s in &present {
        per_split.push(list_dirs(&root.join(s))?);
    }
    let mut classes: Vec<String> = per_split.iter().flatten().cloned().collect();
    classes.sort();
    classes.dedup();
    let mut splits = Vec::new();
    for (s, own) in present.iter().zip(&per_split) {
        let labels: Vec<usize> = own
            .iter()
            .filter_map(|c| classes.binary_search(c).ok())
            .collect();
        let items = scan_classes(&root.join(s), own, &labels)?;
        splits.push((s.to_string(), items));
    }
    Ok(SplitTree {
        root: root.to_path_buf(),
        classes,
        splits,
    })
}

/// Scans `DIR/<class>/*`: the sorted class list and the items sorted by `rel_path`.
pub fn scan_raw(root: &Path) -> Result<(Vec<String>, Vec<Item>), DatasetError> {
    require_dir(root)?;
    let classes = list_dirs(root)?;
    if classes.is_empty() {
        let loose_files = std::fs::read_dir(root).map_err(io_err(root))?.count();
        return Err(DatasetError::NoClasses {
            root: root.to_path_buf(),
            loose_files,
        });
    }
    let labels: Vec<usize> = (0..classes.len()).collect();
    let items = scan_classes(root, &classes, &labels)?;
    Ok((classes, items))
}

fn require_dir(root: &Path) -> Result<(), DatasetError> {
    if root.is_dir() {
        Ok(())
    } else {
        Err(DatasetError::NotADirectory {
            path: root.to_path_buf(),
        })
    }
}

/// Whether `path` (which need not exist yet) lies inside the folder `tree` or is `tree` itself,
/// symbolic links resolved: an output there would be read back as input.
pub fn is_inside(path: &Path, tree: &Path) -> bool {
    let Ok(tree) = std::fs::canonicalize(tree) else {
        return false;
    };
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = abs.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(n)) => {
                rest.push(n.to_owned());
                existing = p;
            }
            _ => return false,
        }
    }
    let Ok(mut real) = std::fs::canonicalize(existing) else {
        return false;
    };
    real.extend(rest.iter().rev());
    real.starts_with(&tree)
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

fn utf8_name(entry: &std::fs::DirEntry) -> Result<String, DatasetError> {
    entry
        .file_name()
        .into_string()
        .map_err(|_| DatasetError::NonUtf8 { path: entry.path() })
}

/// Non-hidden sub-folders of `dir` (symbolic links followed), sorted.
fn list_dirs(dir: &Path) -> Result<Vec<String>, DatasetError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = utf8_name(&entry)?;
        if !is_hidden(&name) && entry.path().is_dir() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Items of the given class folders under `root`, sorted by `rel_path`.
fn scan_classes(
    root: &Path,
    classes: &[String],
    labels: &[usize],
) -> Result<Vec<Item>, DatasetError> {
    let per_class: Vec<Vec<Item>> = classes
        .par_iter()
        .zip(labels.par_iter())
        .map(|(class, &label)| {
            let mut items = Vec::new();
            let mut seen = std::collections::HashSet::new();
            walk(&root.join(class), class, label, 0, &mut items, &mut seen)?;
            Ok(items)
        })
        .collect::<Result<_, DatasetError>>()?;
    let mut items: Vec<Item> = per_class.into_iter().flatten().collect();
    items.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    Ok(items)
}

fn walk(
    dir: &Path,
    rel: &str,
    label: usize,
    depth: usize,
    out: &mut Vec<Item>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> Result<(), DatasetError> {
    // A folder reached twice (two links to one folder) is walked once.
    let real = std::fs::canonicalize(dir).map_err(io_err(dir))?;
    if !seen.insert(real.clone()) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = utf8_name(&entry)?;
        if is_hidden(&name) {
            continue;
        }
        let path = entry.path();
        let rel_path = format!("{rel}/{name}");
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                if let Some(target) = files::link_loop(&real, &path) {
                    files::warn_loop(&path, &target);
                } else if depth < MAX_DEPTH {
                    walk(&path, &rel_path, label, depth + 1, out, seen)?;
                }
            }
            Ok(m) if m.is_file() => out.push(Item {
                rel_path,
                label,
                bytes: m.len(),
                mtime_ns: mtime_ns(&m),
            }),
            Ok(_) => {} // sockets, fifos, devices
            Err(_) if path.is_symlink() => out.push(Item {
                rel_path,
                label,
                bytes: 0,
                mtime_ns: 0,
            }),
            Err(e) => return Err(io_err(&path)(e)),
        }
    }
    Ok(())
}

fn mtime_ns(m: &std::fs::Metadata) -> i64 {
    match m.modified() {
        Ok(t) => match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
        },
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images")
    }

    #[test]
    fn scans_the_fixture_split_tree() {
        let root = fixtures().join("tree");
        assert!(is_split_tree(&root));
        let t = scan_split_tree(&root).unwrap();
        assert_eq!(t.classes, ["bird", "cat", "dog", "empty", "fish"]);
        let names: Vec<&str> = t.splits.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, SPLITS);
        let train = t.split("train").unwrap();
        assert_eq!(train.len(), 2 + 6 + 6 + 8);
        assert!(train.iter().all(|i| !i.rel_path.contains("/.")));
        assert!(train.windows(2).all(|w| w[0].rel_path < w[1].rel_path));
        let cmyk = train
            .iter()
            .find(|i| i.rel_path == "dog/dog_cmyk.jpg")
            .unwrap();
        assert_eq!(cmyk.label, 2);
        assert!(cmyk.bytes > 0 && cmyk.mtime_ns > 0);
        let valid = t.split("valid").unwrap();
        assert!(valid.iter().all(|i| t.classes[i.label] != "bird"));
        let fish = valid
            .iter()
            .find(|i| i.rel_path.starts_with("fish/"))
            .unwrap();
        assert_eq!(fish.label, 4);
    }

    #[test]
    fn scans_raw_trees_and_tells_them_from_split_trees() {
        let root = fixtures().join("raw");
        assert!(!is_split_tree(&root));
        let (classes, items) = scan_raw(&root).unwrap();
        assert_eq!(classes, ["alpha", "beta", "delta", "epsilon", "gamma"]);
        assert_eq!(items.len(), 24 + 10 + 2 + 6 + 3);
        assert_eq!(items.iter().filter(|i| i.label == 4).count(), 3);
    }

    #[test]
    fn recurses_follows_links_and_refuses_bad_roots() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/sub/deeper")).unwrap();
        std::fs::write(root.join("a/sub/deeper/x.jpg"), b"x").unwrap();
        std::fs::write(root.join("a/.DS_Store"), b"x").unwrap();
        std::os::unix::fs::symlink(root.join("a/sub/deeper/x.jpg"), root.join("a/link.jpg"))
            .unwrap();
        std::os::unix::fs::symlink(root.join("missing"), root.join("a/dangling.jpg")).unwrap();
        let (classes, items) = scan_raw(root).unwrap();
        assert_eq!(classes, ["a"]);
        let rels: Vec<&str> = items.iter().map(|i| i.rel_path.as_str()).collect();
        assert_eq!(rels, ["a/dangling.jpg", "a/link.jpg", "a/sub/deeper/x.jpg"]);
        assert_eq!(items[0].bytes, 0);
        assert_eq!(items[1].bytes, 1);

        let empty = tempfile::tempdir().unwrap();
        std::fs::write(empty.path().join("loose.jpg"), b"x").unwrap();
        let err = scan_raw(empty.path()).unwrap_err();
        assert!(
            matches!(err, DatasetError::NoClasses { loose_files: 1, .. }),
            "{err}"
        );
        assert!(matches!(
            scan_split_tree(root).unwrap_err(),
            DatasetError::NoSplits { .. }
        ));
        assert!(matches!(
            scan_raw(&root.join("nope")).unwrap_err(),
            DatasetError::NotADirectory { .. }
        ));
    }
}
