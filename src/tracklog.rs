//! Track logs: one row per frame and target in CSV, JSON Lines, OTB text or MOTChallenge form. Targets are
//! numbered 1, 2, ... in the order given; OTB text, which has no room for an id, takes one file per target when
//! there are several (`out.txt` becomes `out.1.txt`, `out.2.txt`, ...).
//! Every frame's rows are written as they come, at once, so a log cut short by an error or a signal is still valid.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use siamtrack_core::BBox;
use siamtrack_core::{Track, TrackState};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `frame,timestamp_ms,x,y,w,h,score,state,target` with a header; 0-based frames and pixels, targets from 1.
    Csv,
    /// One JSON object per line with the CSV's fields.
    Jsonl,
    /// OTB results: `x,y,w,h` per frame, 1-based pixels; one file per target when there are several.
    Otb,
    /// MOTChallenge: `frame,id,x,y,w,h,conf,-1,-1,-1`, 1-based frames and pixels, id = the target's.
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
    /// The target's id, from 1 (logs written before targets had ids hold one target: 1).
    #[serde(default = "first_target")]
    pub target: usize,
}

fn first_target() -> usize {
    1
}

fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

impl LogRecord {
    /// Target `target`'s track (ids from 1) on frame `frame`.
    pub fn new(frame: u64, timestamp_ms: f64, target: usize, track: &Track) -> Self {
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
            target,
        }
    }

    pub fn bbox(&self) -> BBox {
        BBox::new(self.x, self.y, self.w, self.h)
    }
}

pub struct TrackLogWriter {
    format: LogFormat,
    /// One file, or with OTB text and several targets one per target (target k in file k - 1).
    outs: Vec<LogFile>,
}

/// A log file, locked against other runs while it is written, and how many bytes of it are whole rows.
struct LogFile {
    path: PathBuf,
    file: File,
    written: u64,
}

impl LogFile {
    /// Creates (or empties) `path` once no other run holds it.
    fn create(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot write log {}", path.display()))?;
        lock(&file, path, "log")?;
        file.set_len(0)
            .with_context(|| format!("cannot write log {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            written: 0,
        })
    }

    /// Appends whole rows; a write that fails part way is taken back, so the file ends with a whole row.
    fn append(&mut self, rows: &str) -> Result<()> {
        if let Err(e) = self.file.write_all(rows.as_bytes()) {
            let _ = self.file.set_len(self.written);
            return Err(e).with_context(|| format!("cannot write log {}", self.path.display()));
        }
        self.written += rows.len() as u64;
        Ok(())
    }
}

/// Takes the exclusive lock of an output file, or says which run holds it: two runs writing one file would
/// interleave their rows.
pub fn lock(file: &File, path: &Path, what: &str) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "{what} {} is being written by another run (it holds the file's lock)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {what} {}", path.display()))
        }
    }
}

impl TrackLogWriter {
    /// A log of `targets` targets at `path` (for OTB text and several targets, the files of
    /// [`TrackLogWriter::paths`]).
    pub fn create(path: &Path, format: LogFormat, targets: usize) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {} for the log", dir.display()))?;
        }
        let outs = Self::paths(path, format, targets)
            .iter()
            .map(|p| LogFile::create(p))
            .collect::<Result<Vec<_>>>()?;
        let mut writer = Self { format, outs };
        if format == LogFormat::Csv {
            writer.outs[0].append("frame,timestamp_ms,x,y,w,h,score,state,target\n")?;
        }
        Ok(writer)
    }

    /// The files a log at `path` writes: `path` itself, or for OTB text and several targets
    /// [`per_target_paths`].
    pub fn paths(path: &Path, format: LogFormat, targets: usize) -> Vec<PathBuf> {
        match format {
            LogFormat::Otb => per_target_paths(path, targets),
            _ => vec![path.to_path_buf()],
        }
    }

    /// One frame's rows: a track per target, in id order. A frame's rows in one file are written at once, so a
    /// log cut short (a full disk, a signal) ends with a whole frame.
    pub fn write_frame(&mut self, frame: u64, timestamp_ms: f64, tracks: &[Track]) -> Result<()> {
        let records: Vec<LogRecord> = tracks
            .iter()
            .enumerate()
            .map(|(k, track)| LogRecord::new(frame, timestamp_ms, k + 1, track))
            .collect();
        self.write_records(&records)
    }

    pub fn write(&mut self, r: &LogRecord) -> Result<()> {
        self.write_records(std::slice::from_ref(r))
    }

    fn write_records(&mut self, records: &[LogRecord]) -> Result<()> {
        let mut rows = vec![String::new(); self.outs.len()];
        for r in records {
            let file = match (self.format, self.outs.len()) {
                (LogFormat::Otb, n) if n > 1 => r.target.wrapping_sub(1),
                _ => 0,
            };
            let row = rows
                .get_mut(file)
                .with_context(|| format!("no OTB log file for target {}", r.target))?;
            row.push_str(&self.row(r)?);
            row.push('\n');
        }
        for (out, rows) in self.outs.iter_mut().zip(&rows) {
            if !rows.is_empty() {
                out.append(rows)?;
            }
        }
        Ok(())
    }

    fn row(&self, r: &LogRecord) -> Result<String> {
        Ok(match self.format {
            LogFormat::Csv => format!(
                "{},{},{},{},{},{},{},{},{}",
                r.frame,
                r.timestamp_ms,
                r.x,
                r.y,
                r.w,
                r.h,
                r.score,
                r.state.name(),
                r.target
            ),
            LogFormat::Jsonl => serde_json::to_string(r)?,
            LogFormat::Otb => otb_line(&r.bbox()),
            LogFormat::Mot => format!(
                "{},{},{:.2},{:.2},{:.2},{:.2},{},-1,-1,-1",
                r.frame + 1,
                r.target,
                r.x + 1.0,
                r.y + 1.0,
                r.w,
                r.h,
                r.score
            ),
        })
    }
}

/// One file per target for a format that holds one target (OTB text): `path` itself for one target, else `path`
/// with the target's id before its extension (`out.txt`: `out.1.txt`, `out.2.txt`, ...).
pub fn per_target_paths(path: &Path, targets: usize) -> Vec<PathBuf> {
    if targets <= 1 {
        return vec![path.to_path_buf()];
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let extension = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..=targets)
        .map(|k| path.with_file_name(format!("{stem}.{k}{extension}")))
        .collect()
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
                1,
                &track(BBox::new(10.0, 20.0, 30.0, 40.0), 1.0, TrackState::Tracking),
            ),
            LogRecord::new(
                1,
                33.3333333,
                1,
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
        let mut w = TrackLogWriter::create(&path, format, 1).unwrap();
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
            "frame,timestamp_ms,x,y,w,h,score,state,target\n0,0,10,20,30,40,1,tracking,1\n1,33.333,11.26,20.5,30,41,0.8765,lost,1\n"
        );
        assert_eq!(read_records(&path, LogFormat::Csv).unwrap(), records());
        let (_d, path, text) = written(LogFormat::Jsonl);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"frame":0,"timestamp_ms":0.0,"x":10.0,"y":20.0,"w":30.0,"h":40.0,"score":1.0,"state":"tracking","target":1}"#
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
    fn several_targets_carry_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<LogRecord> = (1..=2)
            .map(|target| {
                let b = BBox::new(10.0 * target as f64, 5.0, 8.0, 6.0);
                LogRecord::new(3, 100.0, target, &track(b, 0.5, TrackState::Uncertain))
            })
            .collect();
        let write = |name: &str, format| {
            let path = dir.path().join(name);
            let mut w = TrackLogWriter::create(&path, format, 2).unwrap();
            rows.iter().for_each(|r| w.write(r).unwrap());
            path
        };
        let csv = write("log.csv", LogFormat::Csv);
        assert_eq!(read_records(&csv, LogFormat::Csv).unwrap(), rows);
        let mot = std::fs::read_to_string(write("log.mot", LogFormat::Mot)).unwrap();
        assert_eq!(
            mot,
            "4,1,11.00,6.00,8.00,6.00,0.5,-1,-1,-1\n4,2,21.00,6.00,8.00,6.00,0.5,-1,-1,-1\n"
        );
        // OTB text: a file per target, none under the name given.
        let otb = write("out.txt", LogFormat::Otb);
        assert!(!otb.exists());
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("out.1.txt"), "11.00,6.00,8.00,6.00\n");
        assert_eq!(read("out.2.txt"), "21.00,6.00,8.00,6.00\n");
        // A CSV log written before targets had ids reads as target 1.
        let old = dir.path().join("old.csv");
        std::fs::write(
            &old,
            "frame,timestamp_ms,x,y,w,h,score,state\n0,0,1,2,3,4,1,tracking\n",
        )
        .unwrap();
        assert_eq!(read_records(&old, LogFormat::Csv).unwrap()[0].target, 1);
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
