//! HTML building blocks of the report: escaping, tables (sortable by a tiny inline script, in a
//! sensible order without it), key–value lists, the page shell with its inline CSS, and
//! thumbnails as `data:` URIs.

use std::fmt::Write as _;
use std::path::Path;

/// Longest side of a thumbnail in pixels.
pub const THUMB: u32 = 128;

/// Escapes `& < > " '` for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A table cell: shown text and an optional numeric sort key.
pub struct Cell(pub String, pub Option<f64>);

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell(esc(&s.into()), None)
    }
    pub fn num(v: f64, shown: String) -> Cell {
        Cell(esc(&shown), Some(v))
    }
    pub fn int(v: usize) -> Cell {
        Cell(v.to_string(), Some(v as f64))
    }
    pub fn pct(v: f64) -> Cell {
        Cell(format!("{:.1} %", v * 100.0), Some(v))
    }
}

/// A table; `sortable` adds click-to-sort headers (the inline script), rows stay as given otherwise.
pub fn table(head: &[&str], rows: Vec<Vec<Cell>>, sortable: bool) -> String {
    let mut s = String::from(if sortable {
        "<div class=\"tw\"><table class=\"sortable\"><thead><tr>"
    } else {
        "<div class=\"tw\"><table><thead><tr>"
    });
    for h in head {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s += "</tr></thead><tbody>";
    for row in rows {
        s += "<tr>";
        for Cell(text, key) in row {
            match key {
                Some(k) => {
                    let _ = write!(s, "<td class=\"n\" data-v=\"{k}\">{text}</td>");
                }
                None => {
                    let _ = write!(s, "<td>{text}</td>");
                }
            }
        }
        s += "</tr>";
    }
    s + "</tbody></table></div>"
}

/// A two-column list of facts.
pub fn facts(items: &[(&str, String)]) -> String {
    let mut s = String::from("<dl class=\"facts\">");
    for (k, v) in items {
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    s + "</dl>"
}

/// A figure with a caption.
pub fn figure(svg: &str, caption: &str) -> String {
    format!(
        "<figure>{svg}<figcaption>{}</figcaption></figure>",
        esc(caption)
    )
}

const CSS: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#222;margin:0;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:18px 28px}header h1{margin:0;font-size:22px}header p{margin:4px 0 0;opacity:.85}
nav{background:#fff;border-bottom:1px solid #ddd;padding:8px 28px;position:sticky;top:0;z-index:2}nav a{margin-right:16px;color:#1f3a5f;text-decoration:none;font-weight:600}
main{max-width:1280px;margin:0 auto;padding:8px 28px 40px}section{background:#fff;border:1px solid #e2e4e8;border-radius:8px;padding:14px 20px;margin:18px 0}
h2{margin:4px 0 10px;font-size:19px;color:#1f3a5f}h3{font-size:15px;margin:16px 0 6px}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}figure{margin:0}figcaption{color:#666;font-size:12px;max-width:560px}
svg{max-width:100%;height:auto;background:#fff}svg text{font-family:inherit}
.tw{overflow:auto;max-height:520px;border:1px solid #eee;margin:6px 0}table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 9px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap}th{background:#eef1f5;position:sticky;top:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}table.sortable th{cursor:pointer}tbody tr:nth-child(even){background:#fafbfc}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 18px;margin:6px 0}dt{color:#666}dd{margin:0;font-variant-numeric:tabular-nums;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{width:176px;border:1px solid #e2e4e8;border-radius:6px;padding:6px;font-size:12px;background:#fff}
.card img{display:block;margin:0 auto 4px;max-width:128px;max-height:128px;image-rendering:pixelated}.card .p{color:#666;word-break:break-all}.bad{color:#b00020}.ok{color:#2a7a2a}
.verdict p{font-size:15px;margin:4px 0}.verdict p:first-child{font-size:18px;font-weight:600}
.pair{display:flex;gap:4px;align-items:stretch;border:1px dashed #c8ccd2;border-radius:8px;padding:4px}pre{white-space:pre-wrap;word-break:break-all;background:#f4f5f7;padding:6px 8px;border-radius:4px;font-size:12px}.note{color:#666}.groups{display:flex;flex-wrap:wrap;gap:4px 28px}.group h3{margin-top:8px}.big{font-size:22px;font-weight:600;color:#1f3a5f;margin-right:22px}";

/// Sorts a `table.sortable` by the clicked column (numbers by `data-v`, text otherwise).
const SCRIPT: &str = "document.querySelectorAll('table.sortable').forEach(function(t){t.querySelectorAll('th').forEach(function(th,i){var asc=false;th.addEventListener('click',function(){asc=!asc;var b=t.tBodies[0],r=Array.prototype.slice.call(b.rows);r.sort(function(x,y){var a=x.cells[i],c=y.cells[i],u=a.getAttribute('data-v'),v=c.getAttribute('data-v');var d=(u!==null&&v!==null)?(parseFloat(u)-parseFloat(v)):a.textContent.localeCompare(c.textContent);return asc?d:-d;});r.forEach(function(e){b.appendChild(e);});});});});";

/// The whole page: `sections` are `(id, title, body)`.
pub fn page(title: &str, subtitle: &str, sections: &[(&str, &str, String)]) -> String {
    let mut s = format!("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'\"><title>{}</title><style>{CSS}</style></head><body><header><h1>{}</h1><p>{}</p></header><nav>", esc(title), esc(title), esc(subtitle));
    for (id, t, _) in sections {
        let _ = write!(s, "<a href=\"#{id}\">{}</a>", esc(t));
    }
    s += "</nav><main>";
    for (id, t, body) in sections {
        let _ = write!(
            s,
            "<section id=\"{id}\"><h2>{}</h2>{body}</section>",
            esc(t)
        );
    }
    let _ = writeln!(s, "</main><script>{SCRIPT}</script></body></html>");
    s
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                o.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

/// `<img>` with a JPEG thumbnail (longest side ≤ [`THUMB`]) of the image at `path`, or a short
/// note when it cannot be read.
pub fn thumbnail(path: &Path, alt: &str) -> String {
    let img = match crate::image_io::load_rgb8(path) {
        Ok(i) => i,
        Err(_) => return format!("<span class=\"note\">({} unreadable)</span>", esc(alt)),
    };
    let (w, h) = img.dimensions();
    let scale = f64::from(THUMB) / f64::from(w.max(h).max(1));
    let (tw, th) = if scale < 1.0 {
        (
            ((f64::from(w) * scale).round() as u32).max(1),
            ((f64::from(h) * scale).round() as u32).max(1),
        )
    } else {
        (w, h)
    };
    let small = image::imageops::thumbnail(&img, tw, th);
    let mut jpeg = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80);
    if small.write_with_encoder(enc).is_err() {
        return format!("<span class=\"note\">({} not encodable)</span>", esc(alt));
    }
    // small images are shown enlarged (at least 64 px on the longest side), never re-sampled
    let show = (64.0 / f64::from(tw.max(th))).max(1.0);
    let (dw, dh) = (
        (f64::from(tw) * show).round(),
        (f64::from(th) * show).round(),
    );
    format!("<img src=\"data:image/jpeg;base64,{}\" width=\"{dw}\" height=\"{dh}\" alt=\"{}\" title=\"{}\">", base64(&jpeg), esc(alt), esc(alt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn escaping_and_tables() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let t = table(
            &["c", "n"],
            vec![vec![Cell::text("<x>"), Cell::int(3)]],
            true,
        );
        assert!(t.contains("&lt;x&gt;") && t.contains("data-v=\"3\"") && t.contains("sortable"));
    }
}
