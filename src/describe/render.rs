//! The report as text (a table per signal) and as indented JSON.

use std::fmt::Write as _;

use pyo3::prelude::*;
use serde::Serialize;

use super::SignalInfo;

/// The text report: per signal a title line, then a table of its receivers.
pub fn render_text(signals: &[SignalInfo]) -> String {
    const HEADER: [&str; 7] = [
        "receiver",
        "kind",
        "sender",
        "ref",
        "mode",
        "dispatch_uid",
        "defined at",
    ];
    let mut out = String::new();
    let mut receiver_count = 0;
    for signal in signals {
        let short_type = signal.type_name.rsplit('.').next().unwrap_or(&signal.type_name);
        let caching = if signal.use_caching { ", use_caching" } else { "" };
        let count = match signal.receivers.len() {
            0 => "no receivers".to_owned(),
            1 => "1 receiver".to_owned(),
            n => format!("{n} receivers"),
        };
        let _ = writeln!(out, "{}  [{short_type}{caching}]  {count}", signal.title());
        receiver_count += signal.receivers.len();
        if signal.receivers.is_empty() {
            out.push('\n');
            continue;
        }
        let rows: Vec<[String; 7]> = signal
            .receivers
            .iter()
            .map(|r| {
                [
                    r.dotted_name(),
                    r.kind.as_str().to_owned(),
                    r.sender.clone().unwrap_or_else(|| "any".to_owned()),
                    if r.weak { "weak" } else { "strong" }.to_owned(),
                    if r.is_async { "async" } else { "sync" }.to_owned(),
                    r.dispatch_uid.clone().unwrap_or_else(|| "-".to_owned()),
                    r.location().unwrap_or_else(|| "-".to_owned()),
                ]
            })
            .collect();
        let mut widths = HEADER.map(|h| h.chars().count());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header = HEADER.map(str::to_owned);
        for row in std::iter::once(&header).chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            let line = format!("  {}", cells.join("  "));
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        out,
        "{}, {}",
        plural(signals.len(), "signal"),
        plural(receiver_count, "receiver")
    );
    out
}

/// `report` as indented JSON, `width` spaces per level. The output's size is
/// worked out first, so that an indent too large for memory is a
/// `MemoryError` rather than a failed allocation, which would abort the process.
pub(crate) fn pretty_json<T: Serialize>(report: &T, width: usize) -> PyResult<serde_json::Result<Vec<u8>>> {
    // Written with no indent, then with one space: the difference is the
    // sum of the lines' depths, each multiplied by `width` in the output.
    let flat = match counted_json(report, b"") {
        Ok(size) => size,
        Err(err) => return Ok(Err(err)),
    };
    let one = match counted_json(report, b" ") {
        Ok(size) => size,
        Err(err) => return Ok(Err(err)),
    };
    let depths = one.saturating_sub(flat);
    let spaces_needed = if depths == 0 { 0 } else { width };
    let size = depths
        .checked_mul(width)
        .and_then(|indent| indent.checked_add(flat))
        .filter(|size| isize::try_from(*size).is_ok())
        .ok_or_else(json_too_large)?;
    let mut spaces = Vec::new();
    spaces.try_reserve_exact(spaces_needed).map_err(|_| json_too_large())?;
    spaces.resize(spaces_needed, b' ');
    let mut out = Vec::new();
    out.try_reserve_exact(size).map_err(|_| json_too_large())?;
    let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    Ok(report.serialize(&mut serializer).map(|()| out))
}

/// How many bytes `report` takes as JSON indented by `indent`.
fn counted_json<T: Serialize>(report: &T, indent: &[u8]) -> serde_json::Result<usize> {
    let mut counter = ByteCounter(0);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut serializer = serde_json::Serializer::with_formatter(&mut counter, formatter);
    report.serialize(&mut serializer)?;
    Ok(counter.0)
}

/// A writer that only counts.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cold]
fn json_too_large() -> PyErr {
    pyo3::exceptions::PyMemoryError::new_err("the indented JSON would not fit in memory")
}
