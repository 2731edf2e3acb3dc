//! Track logs: one row per frame in CSV, JSON Lines, OTB text or MOTChallenge form.
//! Every row is flushed as it is written, so a log cut short by an error or a signal is still valid.

use crate::bbox::BBox;
use crate::tracker::{Track, TrackState};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `frame,timestamp_ms,x,y,w,h,score,state` with a header; 0-based frames and pixels.
    Csv,
    /// One JSON object per line with the CSV's fields.
    Jsonl,
    /// OTB results: `x,y,w,h` per frame, 1-based pixels.
    Otb,
    /// MOTChallenge: `frame,id,x,y,w,h,conf,-1,-1,-1`, 1-based frames and pixels, id 1.
    Mot,
}

impl LogFormat {
    /// The format a file name implies: .csv, .jsonl/.json, .txt (OTB).
    pub fn from_path(path: &Path) -> Result<Self> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
        {
            Some(e) if e == "csv" => Ok(Self::Csv),
            Some(e) if e == "jsonl" || e == "json" => Ok(Self::Jsonl),
            Some(e) if e == "txt" => Ok(Self::Otb),
            _ => bail!(
                "cannot tell the log format of {}: use a .csv, .jsonl or .txt name, or --format",
                path.display()
            ),
        }
    }
}

/// One frame's result, as the CSV and JSON Lines logs hold it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    pub frame: u64,
    pub timestamp_ms: f64,
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    pub score: f32,
    pub state: TrackState,
}

fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

impl LogRecord {
    pub fn new(frame: u64, timestamp_ms: f64, track: &Track) -> Self {
        let Track { bbox, score, state } = *track;
        Self {
            frame,
            timestamp_ms: round(timestamp_ms, 3),
            x: round(bbox.x, 2),
            y: round(bbox.y, 2),
            w: round(bbox.w, 2),
            h: round(bbox.h, 2),
            score: round(score as f64, 4) as f32,
            state,
        }
    }

    pub fn bbox(&self) -> BBox {
        BBox::new(self.x, self.y, self.w, self.h)
    }
}

pub struct TrackLogWriter {
    format: LogFormat,
    out: BufWriter<File>,
}

impl TrackLogWriter {
    pub fn create(path: &Path, format: LogFormat) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {} for the log", dir.display()))?;
        }
        let file =
            File::create(path).with_context(|| format!("cannot write log {}", path.display()))?;
        let mut writer = Self {
            format,
            out: BufWriter::new(file),
        };
        if format == LogFormat::Csv {
            writeln!(writer.out, "frame,timestamp_ms,x,y,w,h,score,state")?;
        }
        Ok(writer)
    }

    pub fn write(&mut self, r: &LogRecord) -> Result<()> {
        match self.format {
            LogFormat::Csv => writeln!(
                self.out,
                "{},{},{},{},{},{},{},{}",
                r.frame,
                r.timestamp_ms,
                r.x,
                r.y,
                r.w,
                r.h,
                r.score,
                r.state.name()
            )?,
            LogFormat::Jsonl => writeln!(self.out, "{}", serde_json::to_string(r)?)?,
            LogFormat::Otb => writeln!(self.out, "{}", otb_line(&r.bbox()))?,
            LogFormat::Mot => writeln!(
                self.out,
                "{},1,{:.2},{:.2},{:.2},{:.2},{},-1,-1,-1",
                r.frame + 1,
                r.x + 1.0,
                r.y + 1.0,
                r.w,
                r.h,
                r.score
            )?,
        }
        self.out.flush()?;
        Ok(())
    }
}

/// A box as one OTB results line: 1-based `x,y,w,h`.
pub fn otb_line(b: &BBox) -> String {
    format!("{:.2},{:.2},{:.2},{:.2}", b.x + 1.0, b.y + 1.0, b.w, b.h)
}

/// Reads a CSV or JSON Lines log back.
pub fn read_records(path: &Path, format: LogFormat) -> Result<Vec<LogRecord>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    match format {
        LogFormat::Csv => csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .collect::<Result<Vec<LogRecord>, _>>()
            .with_context(|| format!("malformed CSV log {}", path.display())),
        LogFormat::Jsonl => text
            .lines()
            .map(|line| Ok(serde_json::from_str(line)?))
            .collect::<Result<Vec<_>>>()
            .with_context(|| format!("malformed JSON Lines log {}", path.display())),
        other => bail!("{other:?} logs hold boxes only; read them as ground truth"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(bbox: BBox, score: f32, state: TrackState) -> Track {
        Track { bbox, score, state }
    }

    fn records() -> Vec<LogRecord> {
        vec![
            LogRecord::new(
                0,
                0.0,
                &track(BBox::new(10.0, 20.0, 30.0, 40.0), 1.0, TrackState::Tracking),
            ),
            LogRecord::new(
                1,
                33.3333333,
                &track(
                    BBox::new(11.256, 20.5, 30.0, 41.0),
                    0.87654,
                    TrackState::Lost,
                ),
            ),
        ]
    }

    fn written(format: LogFormat) -> (tempfile::TempDir, std::path::PathBuf, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/log");
        let mut w = TrackLogWriter::create(&path, format).unwrap();
        for r in records() {
            w.write(&r).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        (dir, path, text)
    }

    #[test]
    fn csv_and_jsonl_round_trip() {
        let (_d, path, text) = written(LogFormat::Csv);
        assert_eq!(
            text,
            "frame,timestamp_ms,x,y,w,h,score,state\n0,0,10,20,30,40,1,tracking\n1,33.333,11.26,20.5,30,41,0.8765,lost\n"
        );
        assert_eq!(read_records(&path, LogFormat::Csv).unwrap(), records());
        let (_d, path, text) = written(LogFormat::Jsonl);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"frame":0,"timestamp_ms":0.0,"x":10.0,"y":20.0,"w":30.0,"h":40.0,"score":1.0,"state":"tracking"}"#
        );
        assert_eq!(read_records(&path, LogFormat::Jsonl).unwrap(), records());
    }

    #[test]
    fn otb_and_mot_are_one_based() {
        let (_d, _p, text) = written(LogFormat::Otb);
        assert_eq!(text, "11.00,21.00,30.00,40.00\n12.26,21.50,30.00,41.00\n");
        let (_d, _p, text) = written(LogFormat::Mot);
        assert_eq!(
            text,
            "1,1,11.00,21.00,30.00,40.00,1,-1,-1,-1\n2,1,12.26,21.50,30.00,41.00,0.8765,-1,-1,-1\n"
        );
    }

    #[test]
    fn format_from_extension() {
        assert_eq!(
            LogFormat::from_path(Path::new("a.CSV")).unwrap(),
            LogFormat::Csv
        );
        assert_eq!(
            LogFormat::from_path(Path::new("a.jsonl")).unwrap(),
            LogFormat::Jsonl
        );
        assert_eq!(
            LogFormat::from_path(Path::new("a.txt")).unwrap(),
            LogFormat::Otb
        );
        assert!(LogFormat::from_path(Path::new("a.log")).is_err());
    }
}
