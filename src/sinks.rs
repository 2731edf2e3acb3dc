//! Where tracked frames go: the track log, an annotated video, a window.

use anyhow::{bail, ensure, Context, Result};
use opencv::core::{Mat, Point, Rect, Scalar, Size};
use opencv::prelude::*;
use opencv::{highgui, imgproc, videoio};
use siamtrack_core::BBox;
use siamtrack_core::{Track, TrackState};
use std::path::{Path, PathBuf};

/// Colours of targets 1, 2, ... when there are several (BGR), repeating after the last.
const TARGET_COLOURS: [(f64, f64, f64); 6] = [
    (255.0, 160.0, 0.0),
    (0.0, 200.0, 255.0),
    (200.0, 0.0, 255.0),
    (0.0, 220.0, 120.0),
    (60.0, 60.0, 255.0),
    (255.0, 255.0, 0.0),
];

/// Draws each target's box and a status line onto a copy of the frame. One target's box is green when its score
/// is at least 0.5, orange below; several targets each get their own colour and their id (1, 2, ...) by the box.
pub fn annotate(image: &Mat, tracks: &[Track], status: &str) -> Result<Mat> {
    let mut canvas = image.clone();
    let several = tracks.len() > 1;
    for (k, track) in tracks.iter().enumerate() {
        // One target's box in its state's colour (the states follow the confidence thresholds); several targets
        // each in a colour of their own, with the state beside the id.
        let colour = match (several, track.state) {
            (true, _) => {
                let (b, g, r) = TARGET_COLOURS[k % TARGET_COLOURS.len()];
                Scalar::new(b, g, r, 0.0)
            }
            (false, TrackState::Tracking) => Scalar::new(60.0, 220.0, 60.0, 0.0),
            (false, TrackState::Uncertain) => Scalar::new(0.0, 200.0, 255.0, 0.0),
            (false, TrackState::Lost) => Scalar::new(60.0, 60.0, 230.0, 0.0),
        };
        let bbox = &track.bbox;
        let rect = Rect::new(
            bbox.x.round() as i32,
            bbox.y.round() as i32,
            bbox.w.round() as i32,
            bbox.h.round() as i32,
        );
        imgproc::rectangle(&mut canvas, rect, colour, 2, imgproc::LINE_8, 0)?;
        if several {
            let corner = Point::new(rect.x + 2, (rect.y - 4).max(12));
            let label = format!("{} {}", k + 1, track.state.name());
            outlined_text(&mut canvas, &label, corner, colour)?;
        }
    }
    outlined_text(&mut canvas, status, Point::new(8, 20), Scalar::all(255.0))?;
    Ok(canvas)
}

/// Text in `ink` with a dark outline, readable on any background.
fn outlined_text(canvas: &mut Mat, text: &str, at: Point, ink: Scalar) -> Result<()> {
    for (thickness, colour) in [(3, Scalar::all(0.0)), (1, ink)] {
        imgproc::put_text(
            canvas,
            text,
            at,
            imgproc::FONT_HERSHEY_SIMPLEX,
            0.5,
            colour,
            thickness,
            imgproc::LINE_AA,
            false,
        )?;
    }
    Ok(())
}

/// An MP4 (or any container FFmpeg writes, by extension) of the annotated frames, opened on the first frame.
pub struct AnnotatedVideo {
    path: PathBuf,
    fps: f64,
    writer: Option<videoio::VideoWriter>,
    /// The first frame's size, which the video keeps.
    size: Size,
    /// Whether a frame of another size was scaled (warned once).
    resized: bool,
    /// The file, locked against other runs while this one writes it.
    _lock: std::fs::File,
}

impl AnnotatedVideo {
    /// Checks now that the file can be created, so a bad path fails before any tracking.
    pub fn create(path: &Path, fps: f64) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create folder {} for the video", dir.display()))?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot write video {}", path.display()))?;
        crate::tracklog::lock(&file, path, "video")?;
        file.set_len(0)
            .with_context(|| format!("cannot write video {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            fps,
            writer: None,
            size: Size::default(),
            resized: false,
            _lock: file,
        })
    }

    pub fn write(&mut self, frame: &Mat) -> Result<()> {
        let size = Size::new(frame.cols(), frame.rows());
        if self.writer.is_none() {
            self.writer = Some(self.open_writer(size)?);
            self.size = size;
        }
        let writer = self.writer.as_mut().expect("opened above");
        if size == self.size {
            writer.write(frame)?;
            return Ok(());
        }
        // A video has one frame size: a frame of another size is scaled to the first one's.
        if !self.resized {
            eprintln!(
                "warning: the frames change size ({}x{} to {}x{}): the video {} keeps the first size, the log each \
                 frame's own pixels",
                self.size.width,
                self.size.height,
                size.width,
                size.height,
                self.path.display()
            );
            self.resized = true;
        }
        let mut scaled = Mat::default();
        imgproc::resize(frame, &mut scaled, self.size, 0.0, 0.0, imgproc::INTER_AREA)?;
        writer.write(&scaled)?;
        Ok(())
    }

    /// H.264, which browsers and players take, where FFmpeg has an encoder for it (and the frame's sides are even,
    /// as it needs); else MPEG-4 Part 2, with a note.
    fn open_writer(&self, size: Size) -> Result<videoio::VideoWriter> {
        let mp4 = self
            .path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["mp4", "m4v", "mov"].contains(&e.to_ascii_lowercase().as_str()));
        if mp4 && size.width % 2 == 0 && size.height % 2 == 0 {
            let h264 = videoio::VideoWriter::fourcc('a', 'v', 'c', '1')?;
            let writer = videoio::VideoWriter::new(&self.path, h264, self.fps, size, true)?;
            if writer.is_opened()? {
                return Ok(writer);
            }
        }
        let fourcc = videoio::VideoWriter::fourcc('m', 'p', '4', 'v')?;
        let writer = videoio::VideoWriter::new(&self.path, fourcc, self.fps, size, true)?;
        ensure!(
            writer.is_opened()?,
            "cannot encode video {}",
            self.path.display()
        );
        if mp4 {
            eprintln!(
                "note: {} is MPEG-4 Part 2 (no H.264 encoder here, or odd frame sides): not every browser plays it",
                self.path.display()
            );
        }
        Ok(writer)
    }

    /// Writes the container's index so the file plays, and checks that it does: the encoder does not report a
    /// write that failed (a full disk), so an MP4 or MOV file must end up as whole boxes with the index (`moov`).
    pub fn finish(&mut self) -> Result<()> {
        if let Some(mut writer) = self.writer.take() {
            writer.release()?;
            let mp4 = self
                .path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ["mp4", "m4v", "mov"].contains(&e.to_ascii_lowercase().as_str()));
            if mp4 && !mp4_is_complete(&self.path) {
                bail!(
                    "video {} could not be finalised and will not play (is the disk full?)",
                    self.path.display()
                );
            }
        }
        Ok(())
    }
}

impl Drop for AnnotatedVideo {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// What the user asked for in the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserAction {
    None,
    Quit,
    TogglePause,
    Reselect,
}

pub struct Window {
    name: String,
}

impl Window {
    pub fn open(name: &str) -> Result<Self> {
        highgui::named_window(name, highgui::WINDOW_AUTOSIZE)
            .context("cannot open a window (no display? use --no-display)")?;
        Ok(Self {
            name: name.to_string(),
        })
    }

    /// Shows a frame (shrunk to fit [`DISPLAY_SIZE`]) and reads the keyboard for up to `wait_ms` (at least 1).
    pub fn show(&self, image: &Mat, wait_ms: i32) -> Result<UserAction> {
        match shrunk(image)? {
            Some((small, _)) => highgui::imshow(&self.name, &small)?,
            None => highgui::imshow(&self.name, image)?,
        }
        self.poll(wait_ms)
    }

    /// Reads the keyboard; a closed window counts as quit.
    pub fn poll(&self, wait_ms: i32) -> Result<UserAction> {
        let key = highgui::wait_key(wait_ms.max(1))?;
        if highgui::get_window_property(&self.name, highgui::WND_PROP_VISIBLE)? < 1.0 {
            return Ok(UserAction::Quit);
        }
        Ok(match key & 0xff {
            _ if key < 0 => UserAction::None,
            27 | 0x71 => UserAction::Quit, // Esc, q
            0x20 => UserAction::TogglePause,
            0x72 => UserAction::Reselect, // r
            _ => UserAction::None,
        })
    }

    /// Boxes dragged on `image`, one per target in order: each drag is confirmed with Enter or Space; Enter (or
    /// Esc) with no new box drawn finishes. Empty when none was drawn.
    /// A large frame is shown shrunk, and the boxes are in its own pixels.
    pub fn select(&self, image: &Mat) -> Result<Vec<BBox>> {
        let small = shrunk(image)?;
        let (shown, scale) = small.as_ref().map_or((image, 1.0), |(m, s)| (m, *s));
        let mut boxes = Vec::new();
        loop {
            let rect = highgui::select_roi_for_window(&self.name, shown, true, false)?;
            if rect.width <= 0 || rect.height <= 0 {
                return Ok(boxes);
            }
            boxes.push(BBox::new(
                rect.x as f64 / scale,
                rect.y as f64 / scale,
                rect.width as f64 / scale,
                rect.height as f64 / scale,
            ));
        }
    }
}

/// The largest image the window shows (width, height): a frame larger either way is shrunk to fit, so that
/// high-resolution footage fits a laptop's screen (1366 x 768, with room for the title bar and panel).
pub const DISPLAY_SIZE: (i32, i32) = (1280, 720);

/// `image` shrunk to fit [`DISPLAY_SIZE`], and the scale it is shown at; `None` when it fits.
fn shrunk(image: &Mat) -> Result<Option<(Mat, f64)>> {
    let scale = display_scale(image.cols(), image.rows());
    if scale >= 1.0 {
        return Ok(None);
    }
    let size = Size::new(
        (image.cols() as f64 * scale).round() as i32,
        (image.rows() as f64 * scale).round() as i32,
    );
    let mut shown = Mat::default();
    imgproc::resize(image, &mut shown, size, 0.0, 0.0, imgproc::INTER_AREA)?;
    Ok(Some((shown, scale)))
}

/// The scale that fits a `cols` x `rows` image into [`DISPLAY_SIZE`], at most 1.
fn display_scale(cols: i32, rows: i32) -> f64 {
    let (width, height) = DISPLAY_SIZE;
    (width as f64 / cols.max(1) as f64)
        .min(height as f64 / rows.max(1) as f64)
        .min(1.0)
}

impl Drop for Window {
    fn drop(&mut self) {
        let _ = highgui::destroy_window(&self.name);
    }
}

/// Whether an MP4/MOV file is a sequence of whole top-level boxes that includes the index (`moov`): only the
/// boxes' headers are read, seeking over their contents.
fn mp4_is_complete(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(length) = file.metadata().map(|m| m.len()) else {
        return false;
    };
    let (mut at, mut index) = (0u64, false);
    while at + 8 <= length {
        let mut header = [0u8; 16];
        let wide = at + 16 <= length;
        let read = if wide {
            &mut header[..]
        } else {
            &mut header[..8]
        };
        if file.seek(SeekFrom::Start(at)).is_err() || file.read_exact(read).is_err() {
            return false;
        }
        let size = match u32::from_be_bytes(header[..4].try_into().expect("4 bytes")) as u64 {
            1 if wide => u64::from_be_bytes(header[8..16].try_into().expect("8 bytes")),
            0 => length - at,
            size => size,
        };
        if size < 8 || at + size > length {
            return false;
        }
        index |= &header[4..8] == b"moov";
        at += size;
    }
    index && at == length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_frames_are_shown_shrunk_to_the_display_size() {
        assert_eq!(display_scale(320, 180), 1.0);
        assert_eq!(display_scale(1280, 720), 1.0);
        assert_eq!(display_scale(1920, 1080), 2.0 / 3.0);
        assert_eq!(display_scale(3840, 2160), 1.0 / 3.0);
        // A tall frame is limited by its height.
        assert_eq!(display_scale(1000, 1440), 0.5);
    }
}
