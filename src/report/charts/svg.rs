//! SVG helpers for the charts drawn on the Rust side: scales (linear and log), a plot with
//! its axes, marks with a hover text (`data-tip`, shown by the page script), round ticks.
//! Every number is written with at most one decimal, so pages are stable and small.

use std::fmt::Write as _;

use crate::report::thousands;

/// Text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A linear or log mapping from data values (`lo..hi`) to pixels (`from..to`). Values
/// outside `lo..hi` are clamped to the edges.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub from: f64,
    pub to: f64,
    pub log: bool,
}

impl Scale {
    pub fn linear((lo, hi): (f64, f64), (from, to): (f64, f64)) -> Scale {
        Scale {
            lo,
            hi,
            from,
            to,
            log: false,
        }
    }

    /// A log10 scale; `lo` must be above 0 (it is raised to 1e-12 otherwise).
    pub fn log((lo, hi): (f64, f64), (from, to): (f64, f64)) -> Scale {
        Scale {
            lo: lo.max(1e-12),
            hi: hi.max(lo.max(1e-12)),
            from,
            to,
            log: true,
        }
    }

    pub fn at(&self, v: f64) -> f64 {
        let f = |x: f64| if self.log { x.max(1e-12).log10() } else { x };
        let (v, lo, hi) = (f(v.clamp(self.lo, self.hi)), f(self.lo), f(self.hi));
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        self.from + t * (self.to - self.from)
    }
}

/// The y range of a [`Plot::mirror`] chart: each half's largest bar reaches 1.
pub const MIRROR: (f64, f64) = (-1.15, 1.15);

/// Margins of a plot (pixels).
pub const LEFT: f64 = 60.0;
pub const RIGHT: f64 = 16.0;
pub const TOP: f64 = 22.0;
pub const BOTTOM: f64 = 40.0;

/// One chart: its size, its scales and the SVG under construction.
pub struct Plot {
    pub width: f64,
    pub height: f64,
    pub x: Scale,
    pub y: Scale,
    svg: String,
}

impl Plot {
    /// A plot of `width` × `height` whose x scale maps `x` (log when `log_x`) and y `y`.
    pub fn new(label: &str, (width, height): (f64, f64), x: Scale, y: (f64, f64)) -> Plot {
        let x = Scale {
            from: LEFT,
            to: width - RIGHT,
            ..x
        };
        let label = escape(label);
        Plot {
            width,
            height,
            x,
            y: Scale::linear(y, (height - BOTTOM, TOP)),
            svg: format!(
                "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{label}\">\n"
            ),
        }
    }

    pub fn raw(&mut self, text: &str) {
        self.svg.push_str(text);
    }

    pub fn text(&mut self, (x, y): (f64, f64), anchor: &str, class: &str, text: &str) {
        let text = escape(text);
        let class = if class.is_empty() {
            String::new()
        } else {
            format!(" class=\"{class}\"")
        };
        let _ = writeln!(
            self.svg,
            "<text{class} x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{text}</text>"
        );
    }

    pub fn line(&mut self, class: &str, (x1, y1): (f64, f64), (x2, y2): (f64, f64)) {
        let _ = writeln!(
            self.svg,
            "<line class=\"{class}\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\"/>"
        );
    }

    /// A rectangle in pixels with a hover text (none when `tip` is empty).
    pub fn rect(&mut self, class: &str, (x, y): (f64, f64), (w, h): (f64, f64), tip: &str) {
        let tip = if tip.is_empty() {
            String::new()
        } else {
            format!(" data-tip=\"{}\"", escape(tip))
        };
        let _ = writeln!(
            self.svg,
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\"{tip}/>"
        );
    }

    /// Grid lines and labels for the y ticks, tick marks and labels on x, the axis titles.
    pub fn axes(&mut self, xt: &[(f64, String)], yt: &[(f64, String)], xlabel: &str, ylabel: &str) {
        let (x0, x1, y0, y1) = (self.x.from, self.x.to, self.y.from, self.y.to);
        for (v, label) in yt {
            let y = self.y.at(*v);
            self.line("grid", (x0, y), (x1, y));
            self.text((x0 - 6.0, y + 4.0), "end", "", label);
        }
        for (v, label) in xt {
            let x = self.x.at(*v);
            self.line("tick", (x, y0), (x, y0 + 5.0));
            self.text((x, y0 + 18.0), "middle", "", label);
        }
        let _ = writeln!(
            self.svg,
            "<path class=\"axis\" d=\"M{x0} {y1}V{y0}H{x1}\"/>"
        );
        let h = self.height;
        self.text(((x0 + x1) / 2.0, h - 4.0), "middle", "label", xlabel);
        let (mid, ylabel) = ((y1 + y0) / 2.0, escape(ylabel));
        let _ = writeln!(
            self.svg,
            "<text class=\"label\" transform=\"translate(13 {mid:.1}) rotate(-90)\" text-anchor=\"middle\">{ylabel}</text>"
        );
    }

    /// Bars stacked from `base` over `x0..x1` (data units), one per (class, count), sharing
    /// one hover text. `down` stacks them below the base instead.
    pub fn stack(
        &mut self,
        x: (f64, f64),
        base: f64,
        parts: &[(&str, u64)],
        tip: &str,
        down: bool,
    ) {
        let parts: Vec<(&str, f64)> = parts.iter().map(|(c, n)| (*c, *n as f64)).collect();
        self.stack_scaled(x, base, &parts, tip, down);
    }

    fn stack_scaled(
        &mut self,
        (x0, x1): (f64, f64),
        base: f64,
        parts: &[(&str, f64)],
        tip: &str,
        down: bool,
    ) {
        let (left, right) = (self.x.at(x0) + 0.5, self.x.at(x1) - 0.5);
        let w = (right - left).max(1.0);
        let sign = if down { -1.0 } else { 1.0 };
        let mut level = base;
        for (class, n) in parts.iter().filter(|p| p.1 > 0.0) {
            let next = level + sign * *n;
            let (a, b) = (self.y.at(level), self.y.at(next));
            let (top, h) = (a.min(b), (a - b).abs().max(0.8));
            self.rect(class, (left, top), (w, h), tip);
            level = next;
        }
    }

    /// Bars in two halves around a zero line, each half on its own scale (so that a few
    /// failures show beside thousands of successes): `up` stacked above, scaled to
    /// `up_max`, `down` below, scaled to `down_max`. The plot's y range is `MIRROR`.
    pub fn mirror(
        &mut self,
        x: (f64, f64),
        (up, up_max): (&[(&str, u64)], u64),
        (down, down_max): (&[(&str, u64)], u64),
        tip: &str,
    ) {
        let scaled = |parts: &[(&str, u64)], max: u64| -> Vec<(String, f64)> {
            parts
                .iter()
                .map(|(c, n)| (c.to_string(), *n as f64 / max.max(1) as f64))
                .collect()
        };
        let (u, d) = (scaled(up, up_max), scaled(down, down_max));
        let u: Vec<(&str, f64)> = u.iter().map(|(c, n)| (c.as_str(), *n)).collect();
        let d: Vec<(&str, f64)> = d.iter().map(|(c, n)| (c.as_str(), *n)).collect();
        self.stack_scaled(x, 0.0, &u, tip, false);
        self.stack_scaled(x, 0.0, &d, tip, true);
    }

    /// Axes of a [`Plot::mirror`] chart: each half's largest count on its own tick.
    pub fn mirror_axes(
        &mut self,
        xt: &[(f64, String)],
        (up_max, down_max): (u64, u64),
        xlabel: &str,
        (up, down): (&str, &str),
    ) {
        let yt = [
            (1.0, thousands(up_max)),
            (0.0, "0".to_string()),
            (-1.0, thousands(down_max)),
        ];
        self.axes(xt, &yt, xlabel, "");
        let zero = self.y.at(0.0);
        self.line("axis", (self.x.from, zero), (self.x.to, zero));
        // Each half's title beside it, as the y axis's title.
        for (text, mid) in [
            (up, (self.y.to + zero) / 2.0),
            (down, (zero + self.y.from) / 2.0),
        ] {
            let text = escape(text);
            let _ = writeln!(
                self.svg,
                "<text class=\"halftext\" transform=\"translate(13 {mid:.1}) rotate(-90)\" text-anchor=\"middle\">{text}</text>"
            );
        }
    }

    pub fn finish(mut self) -> String {
        self.svg.push_str("</svg>\n");
        self.svg
    }
}

/// Round tick values (steps of 1, 2 or 5 × 10^k, at least `min_step`) inside `lo..=hi`.
pub fn ticks(lo: f64, hi: f64, most: usize, min_step: f64) -> Vec<(f64, String)> {
    let raw = ((hi - lo) / most.max(1) as f64).max(min_step).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999_999)
        .unwrap_or(10.0 * mag);
    let (first, last) = (
        (lo / step - 1e-9).ceil() as i64,
        (hi / step + 1e-9).floor() as i64,
    );
    (first..=last)
        .map(|k| (k as f64 * step, number(k as f64 * step)))
        .collect()
}

/// Powers of ten inside `lo..=hi` (a log axis), labelled in seconds.
pub fn decade_ticks(lo: f64, hi: f64) -> Vec<(f64, String)> {
    let (a, b) = (lo.log10().ceil() as i32, hi.log10().floor() as i32);
    (a..=b)
        .map(|d| {
            let v = 10f64.powi(d);
            let label = if v < 1.0 {
                format!("{} ms", number(v * 1000.0))
            } else {
                format!("{} s", number(v))
            };
            (v, label)
        })
        .collect()
}

/// `3000`, `0.5`, `12,000`: tick labels.
pub fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        let n = v.round() as i64;
        let sign = if n < 0 { "-" } else { "" };
        return format!("{sign}{}", thousands(n.unsigned_abs()));
    }
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The highest bar's height, with room above it for labels.
pub fn y_top(counts: impl Iterator<Item = u64>) -> f64 {
    counts.max().unwrap_or(0).max(1) as f64 * 1.15
}

/// A row of coloured keys (HTML): `(class, name)`; the class colours the key.
pub fn legend(items: &[(&str, &str)]) -> String {
    let spans: String = items
        .iter()
        .map(|(class, name)| format!("<span><i class=\"{class}\"></i>{}</span>", escape(name)))
        .collect();
    format!("<div class=\"legend\">{spans}</div>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn scales_map_ends_and_clamp() {
        let s = Scale::linear((0.0, 10.0), (100.0, 200.0));
        assert_eq!((s.at(0.0), s.at(5.0), s.at(10.0)), (100.0, 150.0, 200.0));
        assert_eq!((s.at(-3.0), s.at(30.0)), (100.0, 200.0));
        let l = Scale::log((1.0, 100.0), (0.0, 100.0));
        assert!((l.at(10.0) - 50.0).abs() < 1e-9);
        assert_eq!(l.at(0.0), 0.0, "zero clamps to the low end of a log scale");
        // A degenerate range draws in the middle rather than dividing by zero.
        assert_eq!(Scale::linear((3.0, 3.0), (0.0, 10.0)).at(3.0), 5.0);
    }

    #[test]
    fn ticks_are_round() {
        let t: Vec<f64> = ticks(2999.0, 3011.0, 8, 1.0).iter().map(|t| t.0).collect();
        assert_eq!(t, [3000.0, 3002.0, 3004.0, 3006.0, 3008.0, 3010.0]);
        let t: Vec<f64> = ticks(0.0, 426.0, 10, 0.001).iter().map(|t| t.0).collect();
        assert_eq!(t.first(), Some(&0.0));
        assert_eq!(t[1], 50.0);
        assert_eq!(number(0.1 + 0.2), "0.3");
        assert_eq!(number(12_000.0), "12,000");
        assert_eq!(number(-2.0), "-2");
        let d: Vec<String> = decade_ticks(0.004, 300.0)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(d, ["10 ms", "100 ms", "1 s", "10 s", "100 s"]);
    }

    #[test]
    fn plot_marks_carry_their_hover_text_escaped() {
        let mut p = Plot::new(
            "a <chart>",
            (400.0, 200.0),
            Scale::linear((0.0, 10.0), (0.0, 0.0)),
            (0.0, 4.0),
        );
        assert_eq!((p.x.from, p.x.to), (LEFT, 400.0 - RIGHT));
        assert_eq!((p.y.from, p.y.to), (200.0 - BOTTOM, TOP));
        p.stack(
            (0.0, 5.0),
            0.0,
            &[("a", 1), ("b", 0), ("c", 2)],
            "1 < 2",
            false,
        );
        p.stack((5.0, 10.0), 0.0, &[("d", 2)], "", true);
        let svg = p.finish();
        assert!(svg.starts_with("<svg class=\"chart\" viewBox=\"0 0 400 200\""));
        assert!(svg.contains("aria-label=\"a &lt;chart&gt;\""));
        assert_eq!(svg.matches("<rect").count(), 3, "empty parts draw nothing");
        assert_eq!(svg.matches("data-tip=\"1 &lt; 2\"").count(), 2);
        assert!(svg.trim_end().ends_with("</svg>"));
        // Stacked: the second bar starts where the first ends.
        let p = Plot::new(
            "",
            (400.0, 200.0),
            Scale::linear((0.0, 1.0), (0.0, 0.0)),
            (0.0, 4.0),
        );
        assert_eq!(p.y.at(1.0) - p.y.at(3.0), 2.0 * (p.y.at(0.0) - p.y.at(1.0)));
    }

    #[test]
    fn legend_escapes_names() {
        assert_eq!(
            legend(&[("o-refused", "a<b")]),
            "<div class=\"legend\"><span><i class=\"o-refused\"></i>a&lt;b</span></div>\n"
        );
    }
}
