//! A profile as text: one line per receiver, most total time first.

use std::fmt::Write as _;

use super::ReceiverTiming;

/// The table: per receiver its signal, calls, total, mean and longest
/// time, errors, and share of all the time spent in receivers.
pub fn render_text(rows: &[ReceiverTiming]) -> String {
    const HEADER: [&str; 9] = [
        "receiver",
        "signal",
        "calls",
        "total",
        "mean",
        "max",
        "errors",
        "share",
        "defined at",
    ];
    // Columns aligned right: the numbers.
    const RIGHT: [bool; 9] = [false, false, true, true, true, true, true, true, false];
    if rows.is_empty() {
        return "no receiver ran while recording\n".to_owned();
    }
    let total = rows.iter().fold(0u64, |sum, row| sum.saturating_add(row.total_ns));
    let calls = rows.iter().fold(0u64, |sum, row| sum.saturating_add(row.calls));
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|row| {
            [
                row.info.dotted_name(),
                row.signal.clone().unwrap_or_else(|| "-".to_owned()),
                row.calls.to_string(),
                duration(row.total_ns),
                duration(row.total_ns.checked_div(row.calls).unwrap_or(0)),
                duration(row.max_ns),
                errors(row),
                share(row.total_ns, total),
                row.info.location().unwrap_or_else(|| "-".to_owned()),
            ]
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADER.map(str::to_owned);
    for row in std::iter::once(&header).chain(&cells) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .zip(RIGHT)
            .map(|((cell, width), right)| {
                if right {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        out,
        "\n{}, {}, {} in receivers",
        plural(rows.len() as u64, "receiver"),
        plural(calls, "call"),
        duration(total)
    );
    out
}

fn errors(row: &ReceiverTiming) -> String {
    match row.caught {
        0 => row.errors.to_string(),
        caught => format!("{} ({caught} caught)", row.errors),
    }
}

/// `part` of `whole` as a percentage with one decimal.
fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_owned();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

/// A duration in the unit that keeps three significant digits readable.
fn duration(ns: u64) -> String {
    let ns_f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns_f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", ns_f / 1e6)
    } else {
        format!("{:.2} s", ns_f / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::{duration, share};

    #[test]
    fn durations_take_their_unit() {
        assert_eq!(duration(850), "850 ns");
        assert_eq!(duration(12_345), "12.3 µs");
        assert_eq!(duration(1_204_000), "1.20 ms");
        assert_eq!(duration(2_350_000_000), "2.35 s");
    }

    #[test]
    fn shares_are_percentages() {
        assert_eq!(share(1, 4), "25.0%");
        assert_eq!(share(0, 0), "-");
    }
}
