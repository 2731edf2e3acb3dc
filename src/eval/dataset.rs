//! Benchmark datasets on disk: OTB, GOT-10k and VOT sequence folders, read into frames plus 0-based ground truth.
//!
//! | layout | frames | ground truth | origin |
//! |---|---|---|---|
//! | OTB | `<seq>/img/*` | `<seq>/groundtruth_rect.txt`: `x,y,w,h` | 1-based (converted to 0-based) |
//! | GOT-10k | `<seq>/*.jpg` | `<seq>/groundtruth.txt`: `x,y,w,h` | 0-based |
//! | VOT | `<seq>/*.jpg` or `<seq>/color/*.jpg` | `<seq>/groundtruth.txt`: 8-value polygons (or `x,y,w,h`) | 0-based; a polygon becomes its axis-aligned box |
//!
//! Values may be separated by commas, tabs or spaces. A row of NaN (or a zero-size box, as VOT writes for
//! absence, or any box without positive width and height) marks a frame without a valid box: trackers still run
//! on it but it is not scored. The dataset folder may hold a `list.txt` naming its sequences, one per line;
//! without one every sub-folder is a sequence.
//!
//! An OTB folder with several targets (OTB's Jogging and Skating2) holds `groundtruth_rect.1.txt`,
//! `groundtruth_rect.2.txt`, ... instead of `groundtruth_rect.txt`: each target is scored as its own sequence,
//! `<folder>-1`, `<folder>-2`, ... (the names OTB's toolkit gives them), on the folder's frames; `--sequences` and
//! `list.txt` may name the folder (every target) or one target by that name.

use crate::sources::list_images;
use anyhow::{anyhow, bail, Context, Result};
use siamtrack_core::{parse_annotation, BBox};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Otb,
    Got10k,
    Vot,
}

/// One sequence: its frames in order and a ground-truth entry per frame (0-based pixels; `None` = no valid box).
#[derive(Clone, Debug)]
pub struct Sequence {
    pub name: String,
    pub layout: Layout,
    pub frames: Vec<PathBuf>,
    pub truth: Vec<Option<BBox>>,
}

impl Sequence {
    /// Reads the single-target sequence in `dir`; the errors name the sequence.
    pub fn load(dir: &Path) -> Result<Self> {
        let name = folder_name(dir);
        Self::load_inner(dir, &name, None).with_context(|| format!("sequence {name}"))
    }

    /// Reads every target's sequence in `dir`: the folder's one sequence, or one per numbered OTB ground-truth
    /// file (see the module's notes). The errors name the sequence.
    pub fn load_targets(dir: &Path) -> Result<Vec<Self>> {
        let name = folder_name(dir);
        let targets = numbered_truth_files(dir).with_context(|| format!("sequence {name}"))?;
        if targets.is_empty() {
            return Ok(vec![Self::load(dir)?]);
        }
        targets
            .into_iter()
            .map(|(number, path)| {
                let name = format!("{name}-{number}");
                Self::load_inner(dir, &name, Some(&path))
                    .with_context(|| format!("sequence {name}"))
            })
            .collect()
    }

    /// The sequences `name` selects in the dataset `root`: its folder's (see [`Sequence::load_targets`]), or,
    /// for a name `<folder>-<n>` that is no folder of its own, target n of that folder (as `--sequences Jogging-1`
    /// or a `list.txt` line names it).
    pub fn load_named(root: &Path, name: &str) -> Result<Vec<Self>> {
        let dir = root.join(name);
        if let (false, Some((folder, number))) = (dir.is_dir(), name.rsplit_once('-')) {
            if number.parse::<u32>().is_ok() && root.join(folder).is_dir() {
                let target = Self::load_targets(&root.join(folder))?
                    .into_iter()
                    .find(|seq| seq.name == name);
                return match target {
                    Some(seq) => Ok(vec![seq]),
                    None => bail!("sequence {name}: {folder} has no groundtruth_rect.{number}.txt"),
                };
            }
        }
        Self::load_targets(&dir)
    }

    /// `truth`: an OTB ground-truth file to read instead of the folder's own.
    fn load_inner(dir: &Path, name: &str, truth: Option<&Path>) -> Result<Self> {
        if !dir.is_dir() {
            bail!("folder {} not found", dir.display());
        }
        let otb = truth.map_or_else(|| dir.join("groundtruth_rect.txt"), Path::to_path_buf);
        let other = dir.join("groundtruth.txt");
        let (truth_path, one_based, frame_dirs) = if otb.is_file() {
            (otb, true, vec![dir.join("img"), dir.to_path_buf()])
        } else if other.is_file() {
            (
                other,
                false,
                vec![dir.join("color"), dir.join("img"), dir.to_path_buf()],
            )
        } else {
            bail!(
                "missing ground truth: neither groundtruth_rect.txt (OTB) nor groundtruth.txt (GOT-10k/VOT) in {}",
                dir.display()
            );
        };
        let frame_dir = frame_dirs
            .iter()
            .find(|d| d.is_dir() && list_images(d).is_ok())
            .unwrap_or(&frame_dirs[0]);
        let frames = list_images(frame_dir).map_err(|e| anyhow!("no frames: {e}"))?;
        let (truth, polygons) = read_truth(&truth_path, one_based)?;
        if truth.len() != frames.len() {
            bail!(
                "{} frames in {} but {} ground-truth lines in {}",
                frames.len(),
                frame_dir.display(),
                truth.len(),
                truth_path.display()
            );
        }
        if truth.iter().all(Option::is_none) {
            bail!("{} holds no valid box", truth_path.display());
        }
        let layout = if one_based {
            Layout::Otb
        } else if polygons {
            Layout::Vot
        } else {
            Layout::Got10k
        };
        Ok(Self {
            name: name.to_string(),
            layout,
            frames,
            truth,
        })
    }

    /// The frame the trackers start on: the first with a valid ground-truth box.
    pub fn init_frame(&self) -> Option<usize> {
        self.truth.iter().position(Option::is_some)
    }
}

fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

/// The numbered OTB ground-truth files `groundtruth_rect.<n>.txt` of a folder without `groundtruth_rect.txt`, by
/// number; empty when there are none (or the folder is unreadable: the single-sequence reader then says why).
fn numbered_truth_files(dir: &Path) -> Result<Vec<(u32, PathBuf)>> {
    if dir.join("groundtruth_rect.txt").is_file() {
        return Ok(Vec::new());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<(u32, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let number = name
                .strip_prefix("groundtruth_rect.")?
                .strip_suffix(".txt")?
                .parse()
                .ok()?;
            Some((number, e.path()))
        })
        .collect();
    files.sort();
    if let Some(w) = files.windows(2).find(|w| w[0].0 == w[1].0) {
        bail!(
            "two ground-truth files for target {}: {} and {}",
            w[0].0,
            w[0].1.display(),
            w[1].1.display()
        );
    }
    Ok(files)
}

/// Ground truth of one file (0-based), and whether it held 8-value polygons. Blank lines are skipped.
pub fn read_truth(path: &Path, one_based: bool) -> Result<(Vec<Option<BBox>>, bool)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read ground truth {}", path.display()))?;
    parse_truth(&text, one_based, &path.display().to_string())
}

/// [`read_truth`] of text already read; `origin` names it in errors.
pub fn parse_truth(text: &str, one_based: bool, origin: &str) -> Result<(Vec<Option<BBox>>, bool)> {
    let mut polygons = false;
    let mut boxes = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        polygons |= line
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .count()
            == 8;
        let parsed = parse_annotation(line)
            .with_context(|| format!("{origin}:{}: malformed line", number + 1))?;
        boxes.push(to_zero_based(parsed, one_based));
    }
    Ok((boxes, polygons))
}

/// Reads a results file (OTB text, 1-based `x,y,w,h` per line). Rows that are NaN or malformed in value stay in
/// place as `None` so that line numbers keep matching frames; a row that is not a box at all is an error.
pub fn read_results(path: &Path) -> Result<Vec<Option<BBox>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read result file {}", path.display()))?;
    Ok(parse_truth(&text, true, &path.display().to_string())?.0)
}

fn to_zero_based(b: Option<BBox>, one_based: bool) -> Option<BBox> {
    let b = b.filter(|b| b.is_finite() && b.w > 0.0 && b.h > 0.0)?;
    let shift = if one_based { 1.0 } else { 0.0 };
    Some(BBox::new(b.x - shift, b.y - shift, b.w, b.h))
}

/// The sequences to evaluate: `select` when given (in that order), else `list.txt`, else every sub-folder (sorted).
pub fn sequence_names(root: &Path, select: Option<&[String]>) -> Result<Vec<String>> {
    if !root.is_dir() {
        bail!("dataset folder {} not found", root.display());
    }
    if let Some(names) = select {
        return Ok(names.to_vec());
    }
    let list = root.join("list.txt");
    let names: Vec<String> = if list.is_file() {
        std::fs::read_to_string(&list)
            .with_context(|| format!("cannot read {}", list.display()))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    } else {
        let mut names: Vec<String> = std::fs::read_dir(root)
            .with_context(|| format!("cannot read dataset folder {}", root.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    };
    if names.is_empty() {
        bail!("no sequences in {}", root.display());
    }
    Ok(names)
}
