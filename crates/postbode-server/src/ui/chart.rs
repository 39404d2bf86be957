//! Charts drawn on the server as inline SVG, so they read without JavaScript: stacked
//! bars (counts per bucket) and lines (latency percentiles), with axes, grid lines and
//! labels. Colours come from CSS classes (the stylesheet), never inline styles.

use std::fmt::Write;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 44.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 36.0;
/// Bars are at most this wide, however few there are.
const MAX_BAR: f64 = 40.0;
/// At most this many x labels, so they never overlap.
const MAX_X_LABELS: usize = 8;

/// One named series; `class` picks its colour in the stylesheet.
pub struct Series<'a> {
    pub name: &'a str,
    pub class: &'a str,
    /// One value per label; `None` is a gap (no data in that bucket).
    pub values: Vec<Option<f64>>,
}

/// Text for SVG (and HTML): `&`, `<`, `>`, `"` and `'` escaped.
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

/// How many grid intervals a bound gets, so every tick is a round number: one per unit
/// up to 5, four for a bound starting with 2, five otherwise.
fn intervals(bound: f64) -> u32 {
    if bound <= 5.0 && bound.fract() == 0.0 {
        return bound as u32;
    }
    let leading = bound / 10f64.powf(bound.log10().floor());
    if (leading - 2.0).abs() < 1e-9 { 4 } else { 5 }
}

/// A round upper bound for the y axis: 1, 2 or 5 times a power of ten.
fn nice_max(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|bound| *bound >= max)
        .unwrap_or(10.0 * power)
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

struct Frame {
    max: f64,
    slots: usize,
}

impl Frame {
    fn plot_width() -> f64 {
        WIDTH - LEFT - RIGHT
    }

    fn plot_height() -> f64 {
        HEIGHT - TOP - BOTTOM
    }

    fn y(&self, value: f64) -> f64 {
        TOP + Self::plot_height() * (1.0 - value / self.max)
    }

    fn slot_width(&self) -> f64 {
        Self::plot_width() / self.slots.max(1) as f64
    }

    fn x_center(&self, index: usize) -> f64 {
        LEFT + self.slot_width() * (index as f64 + 0.5)
    }
}

/// The SVG's start, the grid with y labels, and the x labels.
fn open(out: &mut String, title: &str, frame: &Frame, labels: &[String], unit: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    let steps = intervals(frame.max);
    for step in 0..=steps {
        let value = frame.max * f64::from(step) / f64::from(steps);
        let y = frame.y(value);
        let _ = write!(
            out,
            r#"<line class="grid" x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            number(value),
            escape(unit)
        );
    }
    let every = labels.len().div_ceil(MAX_X_LABELS).max(1);
    for (index, label) in labels.iter().enumerate().filter(|(i, _)| i % every == 0) {
        let _ = write!(
            out,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            frame.x_center(index),
            HEIGHT - BOTTOM + 16.0,
            escape(label)
        );
    }
    let _ = write!(
        out,
        r#"<line class="axis" x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
        HEIGHT - BOTTOM,
        WIDTH - RIGHT,
        HEIGHT - BOTTOM
    );
}

fn legend(out: &mut String, series: &[Series<'_>]) {
    let mut x = LEFT;
    for s in series {
        let _ = write!(
            out,
            r#"<rect class="{}" x="{x:.1}" y="{:.1}" width="10" height="10"/><text class="legend" x="{:.1}" y="{:.1}">{}</text>"#,
            escape(s.class),
            HEIGHT - 12.0,
            x + 14.0,
            HEIGHT - 3.0,
            escape(s.name)
        );
        x += 24.0 + 7.0 * s.name.chars().count() as f64;
    }
}

/// Stacked bars: for each label, the series' values on top of each other.
pub fn stacked_bars(title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| series.iter().filter_map(|s| s.values.get(i).copied().flatten()).sum())
        .collect();
    let frame = Frame {
        max: nice_max(totals.iter().copied().fold(0.0, f64::max)),
        slots: labels.len(),
    };
    let mut out = String::new();
    open(&mut out, title, &frame, labels, "");
    let bar = (frame.slot_width() * 0.7).clamp(1.0, MAX_BAR);
    for (index, label) in labels.iter().enumerate() {
        let mut base = 0.0;
        for s in series {
            let value = s.values.get(index).copied().flatten().unwrap_or(0.0);
            if value <= 0.0 {
                continue;
            }
            let (top, bottom) = (frame.y(base + value), frame.y(base));
            let _ = write!(
                out,
                r#"<rect class="{}" x="{:.1}" y="{top:.1}" width="{bar:.1}" height="{:.1}"><title>{}: {} {}</title></rect>"#,
                escape(s.class),
                frame.x_center(index) - bar / 2.0,
                (bottom - top).max(0.5),
                escape(label),
                number(value),
                escape(s.name)
            );
            base += value;
        }
    }
    legend(&mut out, series);
    out.push_str("</svg>");
    out
}

/// Lines, one per series, broken where a value is missing; `unit` follows each y label.
pub fn lines(title: &str, labels: &[String], series: &[Series<'_>], unit: &str) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied().flatten())
        .fold(0.0, f64::max);
    let frame = Frame {
        max: nice_max(max),
        slots: labels.len(),
    };
    let mut out = String::new();
    open(&mut out, title, &frame, labels, unit);
    for s in series {
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, out: &mut String| {
            if !run.is_empty() {
                let _ = write!(
                    out,
                    r#"<polyline class="{}" fill="none" points="{}"/>"#,
                    escape(s.class),
                    run.join(" ")
                );
                run.clear();
            }
        };
        for (index, value) in s.values.iter().enumerate() {
            match value {
                Some(v) => {
                    let (x, y) = (frame.x_center(index), frame.y(*v));
                    run.push(format!("{x:.1},{y:.1}"));
                    let _ = write!(
                        out,
                        r#"<circle class="{}" cx="{x:.1}" cy="{y:.1}" r="2.5"><title>{}: {} {}{}</title></circle>"#,
                        escape(s.class),
                        escape(&labels[index]),
                        escape(s.name),
                        number(*v),
                        escape(unit)
                    );
                }
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
    }
    legend(&mut out, series);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{i:02}:00")).collect()
    }

    #[test]
    fn axes_round_up_to_readable_bounds() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(nice_max(450.0), 500.0);
        let svg = stacked_bars(
            "t",
            &labels(2),
            &[Series {
                name: "delivered",
                class: "ok",
                values: vec![Some(7.0), None],
            }],
        );
        // Grid lines at 0, 2, 4, 6, 8 and 10: round numbers only.
        for tick in [">0<", ">2<", ">4<", ">6<", ">8<", ">10<"] {
            assert!(svg.contains(tick), "{tick} in {svg}");
        }
        assert_eq!(svg.matches("class=\"grid\"").count(), 6);
        assert_eq!(intervals(2.0), 2, "a count of 2 gets ticks 0, 1, 2");
        assert_eq!(intervals(200.0), 4);
        assert_eq!(intervals(0.5), 5);
    }

    #[test]
    fn bars_stack_and_scale_to_the_plot() {
        let series = [
            Series {
                name: "delivered",
                class: "ok",
                values: vec![Some(6.0), Some(0.0)],
            },
            Series {
                name: "failed",
                class: "bad",
                values: vec![Some(4.0), Some(0.0)],
            },
        ];
        let svg = stacked_bars("Deliveries", &labels(2), &series);
        let plot = Frame::plot_height();
        // 6 of 10 then 4 of 10: the failed bar starts where the delivered one ends.
        let delivered_top = TOP + plot * 0.4;
        assert!(svg.contains(&format!(r#"y="{delivered_top:.1}" width"#)), "{svg}");
        assert!(svg.contains(r#"class="bad" x="#));
        assert!(
            svg.contains(&format!(r#"y="{TOP:.1}" width"#)),
            "the stack reaches the top: {svg}"
        );
        assert_eq!(
            svg.matches("<rect class=\"ok\" x=").count(),
            2,
            "one bar and one legend swatch"
        );
    }

    #[test]
    fn lines_break_at_gaps() {
        let svg = lines(
            "Latency",
            &labels(4),
            &[Series {
                name: "p99",
                class: "p99",
                values: vec![Some(10.0), Some(20.0), None, Some(5.0)],
            }],
            " ms",
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">20 ms<"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3);
    }

    #[test]
    fn labels_and_titles_are_escaped() {
        let svg = stacked_bars(
            "<script>alert(1)</script>",
            &["a&b".to_owned()],
            &[Series {
                name: "\"x\"",
                class: "ok",
                values: vec![Some(1.0)],
            }],
        );
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("a&amp;b"));
        assert!(svg.contains("&quot;x&quot;"));
    }
}
