//! The main job `pipeline run`: inspect → split → params → extract → train-head → eval in one
//! work directory, reusing what an earlier run already computed, with one summary at the end.

mod defaults;

pub use defaults::{DEFAULT_MODEL, DEFAULT_MODEL_RECIPE};

use crate::backbone::Device;
use crate::cache::shard::FeatureDtype;
use crate::checkpoint::TrainedRun;
use crate::commands::backbone_args::BackboneArgs;
use crate::commands::eval::EvalArgs;
use crate::commands::extract::ExtractArgs;
use crate::commands::quantize::BackbonePrecision;
use crate::commands::split::{Mode, SplitConfig, SplitFile, SplitManifest};
use crate::commands::train_head::TrainArgs;
use crate::features::views::ViewSet;
use crate::head::preset::Preset;
use crate::head::select::HeadChoice;
use anyhow::{Context, Result};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Arguments of `pipeline run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Raw ImageFolder tree: DATA/<class>/<image>.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// ONNX backbone with its sidecar, or a model store name (`pipeline models list`), built on
    /// first use [default: models/vgg16-conv.onnx in a clone (`just vgg16-conv`), elsewhere the
    /// store's vgg16-conv].
    #[arg(long, value_name = "PATH|NAME")]
    pub model: Option<PathBuf>,
    /// Work directory: inspect/, data/ (split), features/, runs/<head>/, report.html land here
    /// [default: work/<name of DATA>].
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Seed of the split, the augmentations and the head.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Train/valid/test shares.
    #[arg(long, default_value = "50,25,25", value_parser = crate::commands::split::parse_ratios)]
    pub ratios: [f64; 3],
    /// Stable hash split instead of exact per-class quotas (exact suits small classes).
    #[arg(long)]
    pub hash_split: bool,
    /// Augmented passes over train at extract time (on top of the views; 0 allowed).
    #[arg(long, default_value_t = 0)]
    pub passes: u32,
    /// Deterministic views cached for every image and averaged per image at eval time
    /// [default: dense-noflip+whole (8 views from 3 backbone passes an image) when the backbone's
    /// features are a global average pool, else ten-crop+whole (12 exact crops, 12 passes)].
    #[arg(long, value_enum)]
    pub views: Option<ViewSet>,
    /// Images per backbone call.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Execution provider of the backbone: auto (CUDA if available, else CPU), cpu, or cuda.
    #[arg(long, value_enum, default_value_t = Device::Auto)]
    pub device: Device,
    /// ONNX Runtime intra-op threads [default: ONNX Runtime's choice, one per core].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// ONNX Runtime library [default: ORT_DYLIB_PATH, beside the executable, the clone's
    /// .ort/{gpu,cpu}/, or the install environment's onnxruntime; `pipeline doctor` shows it].
    #[arg(long, value_name = "PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Storage type of the cached features (f16 halves the cache; the head trains in f32).
    #[arg(long, value_enum, default_value_t = FeatureDtype::F32)]
    pub dtype: FeatureDtype,
    /// Backbone precision: auto takes the int8 build beside the model on CPU (made with it by
    /// `just vgg16-conv`) and f32 on CUDA; int8 quantizes the model once, calibrated on the train
    /// split (needs Python with onnxruntime; cached in WORKDIR/models/).
    #[arg(long, value_enum, default_value_t = BackbonePrecision::Auto)]
    pub precision: BackbonePrecision,
    /// Calibration images for --precision int8, picked evenly over the train split.
    #[arg(long, default_value_t = 64)]
    pub calib_images: usize,
    /// Head to train; auto fits the logistic C grid and the MLP (and its seed ensemble with
    /// --ensemble N), keeps the best on valid and refits it on train+valid.
    #[arg(long, value_enum, default_value_t = HeadChoice::Auto)]
    pub head: HeadChoice,
    /// Choose C, the head and the MLP's epochs by K-fold over train+valid (every train+valid
    /// image scored once; the winner is then fitted on all of them) instead of on the valid split
    /// alone; 0 = the valid split [default: 5 when the chosen head is refitted, the valid split
    /// has fewer than 10 images a class on average and there are no augmented passes, else 0].
    #[arg(long, value_name = "K")]
    pub select_folds: Option<usize>,
    /// MLP seed-ensemble size (a candidate of --head auto beside the single MLP; the members of
    /// --head mlp) [default: mlp 1; auto 5 when train rows × features ≤ 64 Mi, else 1].
    #[arg(long, value_name = "N")]
    pub ensemble: Option<usize>,
    /// Hyper-parameter preset of the head [default: default].
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Maximum epochs of the MLP [default: notebook preset 30; default preset 60].
    #[arg(long, value_name = "N")]
    pub epochs: Option<u32>,
    /// Hidden units of the MLP [default: 256].
    #[arg(long, value_name = "N")]
    pub hidden: Option<usize>,
    /// Dropout probability after the MLP's hidden ReLU, in [0,1) [default: 0.2].
    #[arg(long, value_name = "P")]
    pub dropout: Option<f64>,
    /// Classes with fewer train images are flagged by inspect.
    #[arg(long, default_value_t = 10)]
    pub min_train: usize,
    /// Stop at the first unusable image instead of skipping it.
    #[arg(long)]
    pub strict: bool,
}

/// Runs the main job.
pub fn run(a: RunArgs) -> Result<()> {
    refuse_single_class(&a.data)?;
    let (workdir, w_note) = defaults::workdir(a.workdir.as_deref(), &a.data)?;
    let (model_path, m_note) = defaults::model(a.model.as_deref())?;
    eprintln!("backbone {} ({m_note})", model_path.display());
    eprintln!("workdir  {} ({w_note})", workdir.display());
    let w = &workdir;
    if crate::dataset::is_inside(w, &a.data) {
        anyhow::bail!(
            "--workdir {} is inside --data {}: its split and cache would be read back as images; choose a --workdir outside the data tree",
            w.display(),
            a.data.display()
        );
    }
    std::fs::create_dir_all(w).with_context(|| format!("creating {}", w.display()))?;
    eprintln!("[1/6] inspect {}", a.data.display());
    let report = crate::commands::inspect::inspect(&a.data, a.min_train, false)?;
    crate::atomic::write_json(&w.join("inspect/report.json"), &report)?;
    crate::commands::inspect::write_plots(&report, &w.join("inspect"), false)?;
    eprintln!("[2/6] split");
    let split_dir = w.join("data");
    let (split_note, used_classes) = split_stage(&a, &split_dir)?;
    let by_split = crate::commands::inspect::inspect(&split_dir, a.min_train, false)?;
    crate::atomic::write_json(&w.join("inspect/split/report.json"), &by_split)?;
    crate::commands::inspect::write_plots(&by_split, &w.join("inspect/split"), false)?;
    eprintln!("[3/6] params");
    // the backbone is read (and its feature width checked) before any extraction; the counts
    // written are the trained head's, after training
    crate::commands::params::for_model(&model_path, a.hidden.unwrap_or(256), used_classes.max(2))?;
    let model = match a.precision {
        BackbonePrecision::Auto => defaults::precision(&a, &model_path)?,
        BackbonePrecision::F32 => model_path.clone(),
        BackbonePrecision::Int8 => crate::commands::quantize::cached_int8(
            &model_path,
            &split_dir.join("train"),
            a.calib_images,
            &w.join("models"),
        )?,
    };
    let views = defaults::views(a.views, &model_path)?;
    eprintln!("[4/6] extract");
    let backbone = BackboneArgs {
        model: model.clone(),
        device: a.device,
        threads: a.threads,
        ort_lib: a.ort_lib.clone(),
    };
    let ex = crate::commands::extract::run_extract(&ExtractArgs {
        backbone,
        data: split_dir.clone(),
        out: w.join("features"),
        passes: a.passes,
        views: Some(views),
        batch: a.batch,
        seed: a.seed,
        dtype: a.dtype,
        shard: None,
        chunk_size: None,
        workers: None,
        force: false,
        strict: a.strict,
    })?;
    eprintln!("[5/6] train-head");
    let run_dir = w.join("runs").join(a.head.name());
    crate::commands::train_head::run(train_args(&a, &w.join("features"), &run_dir))?;
    let trained = TrainedRun::load(&run_dir)?;
    let params = crate::commands::params::for_run(&trained)?;
    crate::atomic::write_json(&w.join("params.json"), &params)?;
    crate::atomic::write_json(&run_dir.join("params.json"), &params)?;
    eprintln!("[6/6] eval");
    let ev = crate::commands::eval::evaluate(&EvalArgs {
        features: Some(w.join("features")),
        run: run_dir.clone(),
        split: "test".into(),
        out: None,
        min_train: a.min_train,
    })?;
    let (m, eval_dir) = (&ev.metrics, &ev.out);
    let (audit_note, page) = audit_and_report(w, &run_dir);
    let tree = crate::dataset::scan_split_tree(&split_dir)?;
    let counts = |s: &str| tree.split(s).map_or(0, <[_]>::len);
    crate::say!("── pipeline run summary ──");
    for line in ev.verdict.sentences() {
        crate::say!("{line}");
    }
    crate::say!("");
    let used = if used_classes == report.classes.len() {
        format!("{used_classes} classes")
    } else {
        format!(
            "{} class folders, {used_classes} used",
            report.classes.len()
        )
    };
    crate::say!(
        "data       {}: {used}, {} images ({} unreadable); split {}",
        a.data.display(),
        report.images,
        report.unreadable_files,
        split_note
    );
    crate::say!(
        "           train {} / valid {} / test {}",
        counts("train"),
        counts("valid"),
        counts("test")
    );
    crate::say!(
        "parameters total {}, frozen {}, trainable {} (the trained {} head, {})",
        crate::output::thousands(params.total),
        crate::output::thousands(params.frozen),
        crate::output::thousands(params.trainable),
        params.head,
        params.head_layers
    );
    if ex.reused {
        crate::say!(
            "extract    reused cache {} (key {})",
            ex.dir.display(),
            ex.key
        );
    } else {
        crate::say!(
            "extract    computed {} rows at {} on {}, reused {} from the cache",
            crate::output::thousands(ex.views),
            crate::progress::rate(ex.views_per_sec, "views"),
            ex.provider,
            crate::output::thousands(ex.reused_views)
        );
    }
    crate::say!(
        "           views {} ({} an image from {} backbone passes), backbone {} in {}",
        views.name(),
        views.views().len(),
        views.backbone_passes(),
        model.display(),
        crate::backbone::sidecar::precision_for(&model)?
    );
    let chose = trained.config["selection"]["explain"].as_str();
    match chose {
        Some(chose) => crate::say!(
            "head       {}: {chose} ({})",
            a.head.name(),
            run_dir.display()
        ),
        None => crate::say!(
            "head       {} head, best epoch {} ({})",
            trained.head.kind().name(),
            trained.best_epoch,
            run_dir.display()
        ),
    }
    crate::say!("test       {}", crate::commands::eval::metrics_line(m));
    crate::say!(
        "plots      {} (raw), {} (by split) and {}",
        w.join("inspect").display(),
        w.join("inspect/split").display(),
        eval_dir.display()
    );
    crate::say!("audit      {audit_note}");
    crate::say!("report     {page}");
    let kept = crate::cache::FeatureCache::kept_manifests(&w.join("features"));
    if kept.len() > 1 {
        let cmd = crate::commands::report::compare_command(&defaults::program(), w, &kept);
        crate::say!(
            "backbones  {} caches in {}; compare them (the report shows it): {cmd}",
            kept.len(),
            w.join("features").display()
        );
    }
    crate::say!("backbone   {} ({m_note})", model_path.display());
    let [open, predict, export] = defaults::next_commands(&defaults::program(), w, &run_dir);
    crate::say!("next       {open}");
    crate::say!("           {predict}");
    crate::say!("           {export}");
    Ok(())
}

/// Refuses a data folder with fewer than two class folders before any work: a classifier
/// needs at least two classes.
fn refuse_single_class(data: &Path) -> Result<()> {
    let (classes, _) = crate::dataset::scan_raw(data)?;
    if let [only] = classes.as_slice() {
        anyhow::bail!(
            "{} has one class folder ({only}); a classifier tells classes apart, so it needs at least two: add a sub-folder of photos of something else beside {only}/",
            data.display()
        );
    }
    Ok(())
}

/// Names the class folders the split leaves out (too few usable images) before any work, and
/// refuses when fewer than two classes remain.
fn announce_left_out(data: &Path, planned: &SplitManifest) -> Result<()> {
    let lines: Vec<String> = planned
        .left_out
        .iter()
        .map(|l| crate::verdict::left_out_sentence(&l.class, l.images, planned.min_images))
        .collect();
    for l in &lines {
        eprintln!("warning: {l}");
    }
    if planned.classes.len() < 2 {
        anyhow::bail!(
            "{}: {} class{} with at least {} usable images, a classifier needs two. {}",
            data.display(),
            planned.classes.len(),
            if planned.classes.len() == 1 { "" } else { "es" },
            planned.min_images,
            lines.join(" ")
        );
    }
    Ok(())
}

/// The label check in a few words: what is listed, and why not more.
fn label_summary(r: &crate::audit::AuditReport) -> String {
    use crate::audit::LabelTrust;
    let c = &r.label_check;
    match c.trust {
        LabelTrust::Informative => format!(
            "{} likely label errors, {} hard images (most likely correctly labelled)",
            c.errors, c.hard
        ),
        LabelTrust::Weak => format!(
            "{} likely label errors and {} hard images listed of {} doubts (out-of-fold model weak, κ {:.2})",
            c.shown, c.hard_shown, c.found, c.kappa
        ),
        LabelTrust::TooWeak => format!(
            "no label check (out-of-fold model too weak, κ {:.2})",
            c.kappa
        ),
    }
}

/// Audits the cache into `WORKDIR/audit.json` and writes `WORKDIR/report.html`; a failure of
/// either is reported in the returned notes, not fatal to the run.
fn audit_and_report(w: &Path, run_dir: &Path) -> (String, String) {
    eprintln!("[audit] label issues, near-duplicates, outliers");
    let cfg = crate::audit::AuditConfig::default();
    let audit_note =
        match crate::commands::audit::audit_cache(&w.join("features"), &cfg, Some(&w.join("data")))
            .and_then(|r| {
                crate::atomic::write_json(&w.join("audit.json"), &r)
                    .map(|_| r)
                    .map_err(anyhow::Error::from)
            }) {
            Ok(r) => format!(
                "{}, {} near-duplicate pairs ({} across splits), {} outliers ({})",
                label_summary(&r),
                r.near_duplicates.len(),
                r.near_duplicates.iter().filter(|d| d.cross_split).count(),
                r.outliers.len(),
                w.join("audit.json").display()
            ),
            Err(e) => format!("skipped: {e:#}"),
        };
    eprintln!("[report] {}", w.join("report.html").display());
    let out = w.join("report.html");
    let page = match crate::commands::report::write_report(w, Some(run_dir), &out) {
        Ok(bytes) => format!("{} ({:.1} kB)", out.display(), bytes as f64 / 1e3),
        Err(e) => format!("not written: {e:#}"),
    };
    (audit_note, page)
}

/// Splits into `dir`, or reuses the split already there when it was made from the same source
/// with the same seed, shares and strategy and the source still holds exactly the files it split.
/// A source that gained, lost or changed files is re-split (the hash split keeps every existing
/// image in its split; `--exact` quotas may move a few), and `extract` then reuses the rows of
/// every unchanged image.
fn split_stage(a: &RunArgs, dir: &Path) -> Result<(String, usize)> {
    let cfg = SplitConfig {
        ratios: a.ratios,
        seed: a.seed,
        mode: Mode::Hardlink,
        keep_small: false,
        exact: !a.hash_split,
    };
    let strategy = if cfg.exact { "exact" } else { "hash" };
    let source = a.data.canonicalize().unwrap_or_else(|_| a.data.clone());
    let old: Option<SplitManifest> =
        crate::file_check::read_to_string(&dir.join("split.json"), crate::file_check::MAX_JSON)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
    let complete = !dir.join(crate::dataset::INCOMPLETE_SPLIT).exists();
    let same_recipe = old.as_ref().is_some_and(|o| {
        o.seed == a.seed
            && o.strategy == strategy
            && o.source == source.display().to_string()
            && o.ratios == a.ratios
    });
    let planned = crate::commands::split::plan(&a.data, &cfg)?;
    announce_left_out(&a.data, &planned)?;
    let used = planned.classes.len();
    let mut note = format!("{strategy}, seed {}", a.seed);
    if let (Some(o), true, true) = (&old, same_recipe, complete) {
        let key = |f: &SplitFile| (f.path.clone(), f.blake3.clone());
        let was: HashSet<_> = o.files.iter().map(key).collect();
        let now: HashSet<_> = planned.files.iter().map(key).collect();
        if was == now {
            return Ok((format!("reused {}", dir.display()), used));
        }
        let paths = |s: &HashSet<(String, String)>| -> HashSet<String> {
            s.iter().map(|(p, _)| p.clone()).collect()
        };
        let (wp, np) = (paths(&was), paths(&now));
        let added = np.difference(&wp).count();
        let removed = wp.difference(&np).count();
        let changed = now.difference(&was).count() - added;
        eprintln!(
            "{} changed since the split in {}: {added} added, {removed} removed, {changed} changed; re-splitting (unchanged images keep their cached features)",
            a.data.display(),
            dir.display()
        );
        note =
            format!("re-split after {added} added, {removed} removed, {changed} changed; {note}");
    }
    crate::commands::split::write_split(&a.data, dir, &cfg, planned, true)?;
    Ok((note, used))
}

fn train_args(a: &RunArgs, features: &Path, out: &Path) -> TrainArgs {
    TrainArgs {
        features: vec![features.to_owned()],
        out: out.to_owned(),
        head: a.head,
        c_grid: None,
        refit: None,
        select_folds: a.select_folds,
        preset: a.preset,
        hidden: a.hidden,
        dropout: a.dropout,
        lr: None,
        batch: None,
        epochs: a.epochs,
        patience: None,
        weight_decay: None,
        class_weights: None,
        feature_dropout: None,
        passes: None,
        seed: Some(a.seed),
        logistic_alpha: None,
        logistic_max_iter: None,
        resume: false,
        force: true,
        threads: None,
        ensemble: a.ensemble,
    }
}
