//! Whether the server's memory grows with the work it does: a least-squares line of RSS
//! over deliveries after a warm-up (caches and pools fill in the first minutes), and the
//! end compared with the end of the warm-up.

use std::time::Duration;

use super::super::report::bytes;
use super::sample::{Sample, clock};

/// By minute 2 a server's caches and pools have filled: rows after it are judged.
pub const WARM_UP: Duration = Duration::from_secs(120);
/// The end may be this much above the warm-up's end and still count as flat.
const TOLERANCE: f64 = 0.10;
/// Samples after the warm-up needed to judge.
const FEWEST_SAMPLES: usize = 3;

#[derive(Debug, PartialEq)]
pub enum Memory {
    Flat {
        growth: f64,
    },
    Grows {
        growth: f64,
    },
    /// Too few samples after the warm-up.
    NotJudged,
}

#[derive(Debug)]
pub struct Verdict {
    /// Bytes of RSS (and of anonymous memory) per million deliveries.
    pub rss_slope: Option<f64>,
    pub anon_slope: Option<f64>,
    pub memory: Memory,
    /// The first sample after the warm-up, and the last.
    reference: Option<Sample>,
    end: Option<Sample>,
    fitted: usize,
}

/// The slope of `y` over `x` by least squares; `None` without two distinct `x`.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let covariance: f64 = points.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let variance: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    (variance > 0.0).then(|| covariance / variance)
}

impl Verdict {
    pub fn of(samples: &[Sample], warm_up: Duration) -> Self {
        let after: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.at >= warm_up && s.process.rss.is_some())
            .collect();
        let fit = |memory: fn(&Sample) -> Option<u64>| {
            let points: Vec<(f64, f64)> = after
                .iter()
                .filter_map(|s| Some((s.delivered as f64 / 1e6, memory(s)? as f64)))
                .collect();
            slope(&points)
        };
        let (reference, end) = (after.first().copied().copied(), after.last().copied().copied());
        let memory = match (reference.and_then(|r| r.process.rss), end.and_then(|e| e.process.rss)) {
            (Some(first), Some(last)) if after.len() >= FEWEST_SAMPLES && first > 0 => {
                let growth = last as f64 / first as f64 - 1.0;
                match growth <= TOLERANCE {
                    true => Memory::Flat { growth },
                    false => Memory::Grows { growth },
                }
            }
            _ => Memory::NotJudged,
        };
        Self {
            rss_slope: fit(|s| s.process.rss),
            anon_slope: fit(|s| s.process.anon),
            memory,
            reference,
            end,
            fitted: after.len(),
        }
    }

    /// The report's lines: label and text.
    pub fn lines(&self, warm_up: Duration) -> Vec<(&'static str, String)> {
        let per_million = |slope: Option<f64>| match slope {
            Some(slope) => format!("{}{} per million deliveries", sign(slope), bytes(slope.abs() as u64)),
            None => "-".to_owned(),
        };
        let span = match (self.reference, self.end) {
            (Some(first), Some(last)) => format!("{} to {}", clock(first.at), clock(last.at)),
            _ => "none".to_owned(),
        };
        let mut lines = vec![(
            "RSS slope",
            format!(
                "{} (anon {}; least squares over {} samples, {span})",
                per_million(self.rss_slope),
                per_million(self.anon_slope),
                self.fitted
            ),
        )];
        let rss = |sample: Option<Sample>| sample.and_then(|s| s.process.rss).map_or_else(|| "?".to_owned(), bytes);
        let compared = |growth: f64| {
            format!(
                "{} at the end is {}{:.1}% of {} at {}",
                rss(self.end),
                sign(growth),
                growth.abs() * 100.0,
                rss(self.reference),
                self.reference.map_or_else(|| "?".to_owned(), |r| clock(r.at)),
            )
        };
        let tolerance = TOLERANCE * 100.0;
        lines.push((
            "memory verdict",
            match self.memory {
                Memory::Flat { growth } => format!("flat: {} (within {tolerance:.0}%)", compared(growth)),
                Memory::Grows { growth } => format!("GROWS: {} (more than {tolerance:.0}%)", compared(growth)),
                Memory::NotJudged => format!(
                    "not judged: {} of the {FEWEST_SAMPLES} samples needed after the {} warm-up",
                    self.fitted,
                    clock(warm_up)
                ),
            },
        ));
        lines
    }
}

fn sign(value: f64) -> &'static str {
    if value < 0.0 { "-" } else { "+" }
}

#[cfg(test)]
mod tests {
    use super::super::sample::ProcessFigures;
    use super::*;

    fn sample(secs: u64, delivered: u64, rss_mib: u64) -> Sample {
        Sample {
            at: Duration::from_secs(secs),
            delivered,
            fresh: 0,
            process: ProcessFigures {
                rss: Some(rss_mib << 20),
                anon: Some(rss_mib << 19),
                cpu: None,
            },
            cpu: None,
            database: None,
            latency: None,
            calls: None,
            failed_answers: 0,
        }
    }

    #[test]
    fn the_slope_is_a_least_squares_line() {
        assert_eq!(slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]), Some(2.0));
        assert_eq!(slope(&[(1.0, 1.0), (1.0, 3.0)]), None);
        assert_eq!(slope(&[(1.0, 1.0)]), None);
    }

    #[test]
    fn steady_growth_after_the_warm_up_is_called_out_and_a_plateau_is_flat() {
        let warm = WARM_UP;
        // 8 MiB a minute at 180 000 deliveries a minute, from a fast start.
        let growing: Vec<Sample> = (0..=10).map(|m| sample(m * 60, m * 180_000, 23 + 8 * m)).collect();
        let verdict = Verdict::of(&growing, warm);
        assert!(matches!(verdict.memory, Memory::Grows { .. }), "{verdict:?}");
        let slope = verdict.rss_slope.unwrap() / f64::from(1 << 20);
        assert!((slope - 8.0 / 0.18).abs() < 0.01, "{slope}");
        // Caches filling in the first two minutes, then flat.
        let flat: Vec<Sample> = (0..=10)
            .map(|m| sample(m * 60, m * 180_000, if m < 2 { 20 + 10 * m } else { 40 + m % 2 }))
            .collect();
        let verdict = Verdict::of(&flat, warm);
        assert!(matches!(verdict.memory, Memory::Flat { .. }), "{verdict:?}");
        assert!(
            verdict.lines(warm)[1]
                .1
                .starts_with("flat: 40.0 MiB at the end is +0.0% of 40.0 MiB at 2:00")
        );
        // A short run is not judged.
        let short = Verdict::of(&flat[..3], warm);
        assert_eq!(short.memory, Memory::NotJudged);
        assert!(
            short.lines(warm)[1].1.starts_with("not judged: 1 of the 3"),
            "{short:?}"
        );
    }
}
