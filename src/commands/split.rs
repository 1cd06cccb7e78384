//! Stage `split`: a raw tree `RAW/<class>/*` → `OUT/{train,valid,test}/<class>/*` + `OUT/split.json`.
//!
//! Stratified per class, seeded and stable (see [`assign`]); only usable images (probed by
//! content, on all cores) are placed; unreadable files and classes with fewer than 3 usable
//! images are reported. Files are hard-linked (copied when linking fails, e.g. across devices),
//! symlinked (absolute targets) or copied. `split.json` is written last.

mod assign;
mod manifest;

pub use assign::{Repair, MIN_IMAGES};
pub use manifest::{plan, SplitFile, SplitManifest};

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

/// How files reach the output tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Hard links (no extra space); falls back to copying where linking fails (across devices).
    Hardlink,
    /// Symbolic links with absolute targets.
    Symlink,
    /// Independent copies.
    Copy,
}

/// Arguments of the `split` stage.
#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// Raw ImageFolder tree: RAW/<class>/<image files>.
    pub raw: PathBuf,
    /// Output folder for OUT/{train,valid,test}/<class>/* and OUT/split.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Shares of train, valid and test (percentages or any non-negative weights).
    #[arg(long, default_value = "50,25,25", value_parser = parse_ratios)]
    pub ratios: [f64; 3],
    /// Seed of the assignment (a file's split depends only on the seed and its path); 0, as
    /// `run`'s.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How files are placed in OUT.
    #[arg(long, value_enum, default_value_t = Mode::Hardlink)]
    pub mode: Mode,
    /// Put classes with fewer than 3 usable images entirely in train instead of leaving them out.
    #[arg(long)]
    pub keep_small: bool,
    /// Exact per-class shares (sorted by hash, filled by quota) instead of the stable hash
    /// intervals; adding images later may then move a few existing ones.
    #[arg(long)]
    pub exact: bool,
    /// Allow a non-empty OUT: replaces OUT/{train,valid,test} and OUT/split.json (nothing else).
    #[arg(long)]
    pub force: bool,
}

/// Validated settings of a split.
#[derive(Debug, Clone, Copy)]
pub struct SplitConfig {
    /// Shares of train, valid, test; non-negative, train > 0, sum 1.
    pub ratios: [f64; 3],
    pub seed: u64,
    pub mode: Mode,
    pub keep_small: bool,
    /// Exact per-class quotas instead of stable hash intervals.
    pub exact: bool,
}

/// Parses "50,25,25" (or "0.5,0.25,0.25") into shares summing to 1.
pub fn parse_ratios(s: &str) -> Result<[f64; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || {
        format!("--ratios {s:?}: expected three non-negative numbers TRAIN,VALID,TEST with TRAIN > 0, e.g. 50,25,25")
    };
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut r = [0.0; 3];
    for (x, p) in r.iter_mut().zip(&parts) {
        *x = p.parse::<f64>().map_err(|_| bad())?;
        if !x.is_finite() || *x < 0.0 {
            return Err(bad());
        }
    }
    let sum: f64 = r.iter().sum();
    if r[0] <= 0.0 || sum <= 0.0 {
        return Err(bad());
    }
    Ok(r.map(|x| x / sum))
}

/// Runs the `split` stage.
pub fn run(args: SplitArgs) -> anyhow::Result<()> {
    let cfg = SplitConfig {
        ratios: args.ratios,
        seed: args.seed,
        mode: args.mode,
        keep_small: args.keep_small,
        exact: args.exact,
    };
    let m = split(&args.raw, &args.out, &cfg, args.force)?;
    crate::output::print_stdout(&manifest::summary_text(&m, &args.out))
}

/// Splits `raw` into `out` (see the module doc) and returns what `split.json` holds.
pub fn split(
    raw: &Path,
    out: &Path,
    cfg: &SplitConfig,
    force: bool,
) -> anyhow::Result<SplitManifest> {
    check_paths(raw, out, force)?;
    let m = plan(raw, cfg)?;
    write_split(raw, out, cfg, m, force)
}

/// Places the planned files of `m` into `out` and writes `split.json`. The tree is marked
/// incomplete ([`crate::dataset::INCOMPLETE_SPLIT`]) until `split.json` is in place, so an
/// interrupted split is refused by `extract` and `inspect` rather than read as a smaller dataset.
pub fn write_split(
    raw: &Path,
    out: &Path,
    cfg: &SplitConfig,
    mut m: SplitManifest,
    force: bool,
) -> anyhow::Result<SplitManifest> {
    check_paths(raw, out, force)?;
    if m.files.is_empty() {
        bail!(
            "{}: no class has {MIN_IMAGES} or more usable images, nothing to split; add images or pass --keep-small",
            raw.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let marker = out.join(crate::dataset::INCOMPLETE_SPLIT);
    std::fs::write(&marker, b"a `pipeline split` is writing this tree\n")
        .with_context(|| format!("cannot write {}", marker.display()))?;
    prepare_out(out, force)?;
    m.fallback_copies = place(raw, out, &m.files, cfg.mode)?;
    crate::atomic::write_json(&out.join("split.json"), &m).context("check free disk space")?;
    std::fs::remove_file(&marker).with_context(|| format!("cannot remove {}", marker.display()))?;
    Ok(m)
}

/// Absolute form of `p` with `.`/`..` resolved through its nearest existing ancestor.
fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => absolute(parent).join(name),
        _ => std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf()),
    }
}

fn check_paths(raw: &Path, out: &Path, force: bool) -> anyhow::Result<()> {
    if !raw.is_dir() {
        bail!(
            "{}: not a directory; give the raw tree RAW/<class>/<images>",
            raw.display()
        );
    }
    if crate::dataset::is_split_tree(raw) {
        bail!(
            "{}: already a split tree (it holds train/valid/test folders); inspect or use it directly",
            raw.display()
        );
    }
    let (raw_abs, out_abs) = (absolute(raw), absolute(out));
    if out_abs.starts_with(&raw_abs) || raw_abs.starts_with(&out_abs) {
        bail!(
            "--out {} and RAW {} overlap; choose an output folder outside the raw tree",
            out.display(),
            raw.display()
        );
    }
    if out.is_file() {
        bail!("--out {}: is a file; give a folder", out.display());
    }
    let entries = std::fs::read_dir(out).map(|d| d.count()).unwrap_or(0);
    if entries > 0 && !force {
        bail!(
            "--out {} is not empty ({entries} entries); choose an empty folder, or pass --force to replace its train/valid/test folders and split.json",
            out.display()
        );
    }
    Ok(())
}

/// Creates `out`; with `force`, first removes what a previous split wrote there.
fn prepare_out(out: &Path, force: bool) -> anyhow::Result<()> {
    if force {
        for s in crate::dataset::SPLITS {
            let d = out.join(s);
            if d.exists() {
                std::fs::remove_dir_all(&d)
                    .with_context(|| format!("cannot remove {}", d.display()))?;
            }
        }
        let j = out.join("split.json");
        if j.exists() {
            std::fs::remove_file(&j).with_context(|| format!("cannot remove {}", j.display()))?;
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))
}

/// Places every file; returns how many hard links fell back to copies.
fn place(raw: &Path, out: &Path, files: &[SplitFile], mode: Mode) -> anyhow::Result<usize> {
    use rayon::prelude::*;
    let pb = crate::progress::bar(files.len() as u64, "split", "files");
    let raw_abs = absolute(raw);
    let fallbacks: Vec<bool> = files
        .par_iter()
        .map(|f| {
            let src = raw_abs.join(&f.path);
            let dst = out.join(&f.split).join(&f.path);
            let r = place_one(&src, &dst, mode);
            pb.inc(1);
            r
        })
        .collect::<anyhow::Result<_>>()?;
    pb.finish_and_clear();
    Ok(fallbacks.into_iter().filter(|&b| b).count())
}

/// Places one file; true when a hard link fell back to a copy.
fn place_one(src: &Path, dst: &Path, mode: Mode) -> anyhow::Result<bool> {
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let ctx = || format!("cannot place {} at {}", src.display(), dst.display());
    match mode {
        Mode::Copy => std::fs::copy(src, dst).map(|_| false).with_context(ctx),
        Mode::Hardlink => match std::fs::hard_link(src, dst) {
            Ok(()) => Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e).with_context(ctx),
            Err(_) => std::fs::copy(src, dst).map(|_| true).with_context(ctx),
        },
        Mode::Symlink => symlink(src, dst).map(|_| false).with_context(ctx),
    }
}

#[cfg(unix)]
fn symlink(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(src, dst)
}

#[cfg(not(unix))]
fn symlink(_src: &Path, _dst: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "--mode symlink needs a Unix system; use hardlink or copy",
    ))
}
