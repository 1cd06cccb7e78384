//! Progress bars on stderr (hidden when stderr is not a terminal or `PIPELINE_NO_PROGRESS` is set).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A bar counting `len` items of `unit` (e.g. "img"), with a readable rate (`15.9 views/s`) and
/// ETA, drawn from the start and redrawn twice a second even when no item finished.
pub fn bar(len: u64, what: &str, unit: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if !std::io::stderr().is_terminal() || std::env::var_os("PIPELINE_NO_PROGRESS").is_some() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template =
        format!("{what} [{{bar:30}}] {{pos}}/{{len}} {unit} {{rate}} ETA {{eta}} {{msg}}");
    let unit = unit.to_owned();
    if let Ok(style) = ProgressStyle::with_template(&template) {
        let style = style
            .with_key(
                "rate",
                move |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", rate(s.per_sec(), &unit));
                },
            )
            .progress_chars("=> ");
        pb.set_style(style);
    }
    pb.enable_steady_tick(std::time::Duration::from_millis(500));
    pb
}

/// `15.9 views/s`, `0.42 views/s`, `1,234 views/s`.
pub fn rate(per_sec: f64, unit: &str) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        format!("– {unit}/s")
    } else if per_sec < 1.0 {
        format!("{per_sec:.2} {unit}/s")
    } else if per_sec < 100.0 {
        format!("{per_sec:.1} {unit}/s")
    } else {
        format!(
            "{} {unit}/s",
            crate::output::thousands(per_sec.round() as u64)
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_read_as_people_write_them() {
        assert_eq!(super::rate(15.94, "views"), "15.9 views/s");
        assert_eq!(super::rate(0.4217, "img"), "0.42 img/s");
        assert_eq!(super::rate(1234.4, "img"), "1,234 img/s");
        assert_eq!(super::rate(0.0, "img"), "– img/s");
    }
}
