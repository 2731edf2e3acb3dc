//! Generated test clips: textured targets moving and scaling over a textured background, with exact ground truth.
//! The project's tests and its shipped sample come from here, so they need no outside data. With several targets
//! each has its own look and path over the same area, so their paths cross; a later target passes in front of an
//! earlier one. Other scenes put targets over one another on purpose: one passing in front of another that stands
//! still, or small targets moving inside a large one's box.

use crate::tracklog::per_target_paths;
use anyhow::Result;
use opencv::core::{Mat, Point, Rect, Scalar, Size, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;
use siamtrack_core::BBox;
use std::f64::consts::TAU;
use std::ops::Range;

/// Frames for one full horizontal sweep of the target.
const MOTION_PERIOD: f64 = 300.0;

#[derive(Clone, Debug)]
pub struct ClipSpec {
    pub width: i32,
    pub height: i32,
    pub frames: usize,
    pub seed: u64,
    /// Frames during which the (first) target is out of the frame; it comes back at another place.
    pub absent: Option<Range<usize>>,
    /// Targets in the clip, at least 1 (at least 2 for a scene other than [`Scene::Crossing`]).
    pub targets: usize,
    pub scene: Scene,
}

/// How a clip's targets move with respect to one another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Scene {
    /// Each target on its own path over the same area, so several targets' paths cross.
    #[default]
    Crossing,
    /// The first target stands still in the middle of the frame; the others sweep to and fro across it, in front.
    Passing,
    /// The first target is large and drifts slowly; the others, small, move about inside its box, in front.
    Nested,
}

impl Scene {
    pub fn name(self) -> &'static str {
        match self {
            Self::Crossing => "crossing",
            Self::Passing => "passing",
            Self::Nested => "nested",
        }
    }

    /// A target's size relative to a crossing scene's (about 1/6 of the frame height).
    fn size_factor(self, target: usize) -> f64 {
        match (self, target) {
            (Self::Nested, 0) => 2.5,
            (Self::Nested, _) => 0.6,
            _ => 1.0,
        }
    }
}

impl Default for ClipSpec {
    fn default() -> Self {
        Self {
            width: 480,
            height: 270,
            frames: 240,
            seed: 7,
            absent: None,
            targets: 1,
            scene: Scene::Crossing,
        }
    }
}

/// A tiny deterministic generator, so a seed always gives the same clip on every machine.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn colour(&mut self) -> Scalar {
        Scalar::new(
            self.next() * 255.0,
            self.next() * 255.0,
            self.next() * 255.0,
            0.0,
        )
    }
}

/// Fills `image` with random rectangles and circles, then blurs it slightly (camera-like texture).
fn texture(image: &mut Mat, rng: &mut Lcg, shapes: usize, max_side: f64) -> Result<()> {
    let (w, h) = (image.cols() as f64, image.rows() as f64);
    for i in 0..shapes {
        let (x, y) = ((rng.next() * w) as i32, (rng.next() * h) as i32);
        let side = (2.0 + rng.next() * max_side) as i32;
        let colour = rng.colour();
        if i % 2 == 0 {
            let rect = Rect::new(
                x - side / 2,
                y - side / 2,
                side,
                (side as f64 * (0.5 + rng.next())) as i32,
            );
            imgproc::rectangle(image, rect, colour, -1, imgproc::LINE_AA, 0)?;
        } else {
            imgproc::circle(
                image,
                Point::new(x, y),
                side / 2,
                colour,
                -1,
                imgproc::LINE_AA,
                0,
            )?;
        }
    }
    let mut blurred = Mat::default();
    imgproc::gaussian_blur_def(image, &mut blurred, Size::new(3, 3), 0.8)?;
    *image = blurred;
    Ok(())
}

pub struct Clip {
    spec: ClipSpec,
    background: Mat,
    targets: Vec<Look>,
}

/// One target: its texture (drawn at twice its base size), base size and the phases of its motion.
struct Look {
    image: Mat,
    base_size: (f64, f64),
    phase: [f64; 3],
}

impl Look {
    /// A checkerboard in two complementary colours under a few shapes, with a dark border: a structure the
    /// background of blobs never shows, so the target is unambiguous when present. About `factor` / 6 of the frame
    /// height tall (the random draws do not depend on the size, so other targets' looks stay as they are).
    fn new(rng: &mut Lcg, height: i32, factor: f64) -> Result<Self> {
        let base_h = (height as f64 / 6.0 * factor).round();
        let base_size = ((base_h * 1.3).round(), base_h);
        let (tw, th) = (base_size.0 as i32 * 2, base_size.1 as i32 * 2);
        let light = rng.colour();
        let dark = Scalar::new(255.0 - light[0], 255.0 - light[1], 255.0 - light[2], 0.0);
        let mut image = Mat::new_rows_cols_with_default(th, tw, CV_8UC3, light)?;
        let cell = (th / 4).max(1);
        for row in 0..(th + cell - 1) / cell {
            for col in (row % 2..(tw + cell - 1) / cell).step_by(2) {
                let square = Rect::new(col * cell, row * cell, cell, cell);
                imgproc::rectangle(&mut image, square, dark, -1, imgproc::LINE_8, 0)?;
            }
        }
        texture(&mut image, rng, 6, base_h / 2.0)?;
        let (tw, th) = (image.cols(), image.rows());
        imgproc::rectangle(
            &mut image,
            Rect::new(0, 0, tw, th),
            Scalar::all(20.0),
            6,
            imgproc::LINE_8,
            0,
        )?;
        let phase = [rng.next() * TAU, rng.next() * TAU, rng.next() * TAU];
        Ok(Self {
            image,
            base_size,
            phase,
        })
    }
}

impl Clip {
    pub fn new(spec: ClipSpec) -> Result<Self> {
        anyhow::ensure!(spec.targets >= 1, "a clip needs at least one target");
        anyhow::ensure!(
            (64..=8192).contains(&spec.width) && (64..=8192).contains(&spec.height),
            "a clip's width and height must be 64 to 8192 pixels, got {}x{}",
            spec.width,
            spec.height
        );
        anyhow::ensure!(spec.frames >= 1, "a clip needs at least one frame");
        anyhow::ensure!(
            spec.scene == Scene::Crossing || spec.targets >= 2,
            "a {} scene needs at least two targets",
            spec.scene.name()
        );
        let mut rng = Lcg(spec.seed);
        let mut background =
            Mat::new_rows_cols_with_default(spec.height, spec.width, CV_8UC3, Scalar::all(110.0))?;
        texture(&mut background, &mut rng, 400, spec.height as f64 / 8.0)?;
        let targets = (0..spec.targets)
            .map(|k| Look::new(&mut rng, spec.height, spec.scene.size_factor(k)))
            .collect::<Result<_>>()?;
        Ok(Self {
            spec,
            background,
            targets,
        })
    }

    pub fn spec(&self) -> &ClipSpec {
        &self.spec
    }

    /// Where the (first) target is in frame `index`; `None` while it is away.
    pub fn truth(&self, index: usize) -> Option<BBox> {
        self.target_truth(0, index)
    }

    /// Where target `target` (from 0) is in frame `index`; `None` while it is away.
    pub fn target_truth(&self, target: usize, index: usize) -> Option<BBox> {
        let s = &self.spec;
        let look = &self.targets[target];
        let absent = s.absent.as_ref().filter(|_| target == 0);
        if absent.is_some_and(|r| r.contains(&index)) {
            return None;
        }
        // After an absence the target comes back on the other side of the frame.
        let back = absent.is_some_and(|r| index >= r.end);
        // Periods in frames, independent of the clip's length, so short clips move as naturally as long ones.
        let t = index as f64 / MOTION_PERIOD;
        let (w, h) = (s.width as f64, s.height as f64);
        let size = |scale: f64| {
            (
                (look.base_size.0 * scale).round(),
                (look.base_size.1 * scale).round(),
            )
        };
        let ((bw, bh), (mut cx, cy)) = match (s.scene, target) {
            (Scene::Crossing, _) => (
                size(1.0 + 0.3 * (TAU * 1.5 * t + look.phase[2]).sin()),
                (
                    w / 2.0 + 0.32 * w * (TAU * t + look.phase[0]).sin(),
                    h / 2.0 + 0.28 * h * (TAU * 2.0 * t + look.phase[1]).sin(),
                ),
            ),
            (Scene::Passing, 0) => (size(1.0), (w / 2.0, h / 2.0)),
            // From a side (the left for the second target, the right for the third, ...), so that every target
            // starts apart, across the middle twice a period (first at a quarter), slowing down over it (a cubed
            // cosine) so that it stays in front for a while, a little above or below it, sometimes larger than
            // the one standing there.
            (Scene::Passing, k) => (
                size(1.0 + 0.3 * (TAU * 1.5 * t + look.phase[2]).sin()),
                (
                    w / 2.0
                        - 0.4 * w * (TAU * t).cos().powi(3) * if k % 2 == 1 { 1.0 } else { -1.0 },
                    h / 2.0 + 0.05 * h * (TAU * 2.0 * t + look.phase[1]).sin(),
                ),
            ),
            (Scene::Nested, 0) => (
                size(1.0),
                (
                    w / 2.0 + 0.15 * w * (TAU * t + look.phase[0]).sin(),
                    h / 2.0 + 0.1 * h * (TAU * t + look.phase[1]).sin(),
                ),
            ),
            // Over most of the large target's box, its centre included, and never out of it.
            (Scene::Nested, _) => {
                let outer = self.target_truth(0, index)?;
                let (ow, oh) = size(1.0);
                let (ox, oy) = outer.center();
                (
                    (ow, oh),
                    (
                        ox + 0.4 * (outer.w - ow) * (TAU * 1.7 * t + look.phase[0]).sin(),
                        oy + 0.4 * (outer.h - oh) * (TAU * 2.3 * t + look.phase[1]).sin(),
                    ),
                )
            }
        };
        if back {
            cx = w - cx;
        }
        Some(BBox::new(
            (cx - bw / 2.0).round(),
            (cy - bh / 2.0).round(),
            bw,
            bh,
        ))
    }

    /// Renders frame `index` (8-bit BGR).
    pub fn frame(&self, index: usize) -> Result<Mat> {
        let mut frame = self.background.clone();
        for (k, look) in self.targets.iter().enumerate() {
            let Some(b) = self.target_truth(k, index) else {
                continue;
            };
            let mut patch = Mat::default();
            let size = Size::new(b.w as i32, b.h as i32);
            imgproc::resize(&look.image, &mut patch, size, 0.0, 0.0, imgproc::INTER_AREA)?;
            // Paste the part of the patch that lies inside the frame.
            let dst = Rect::new(b.x as i32, b.y as i32, size.width, size.height)
                & Rect::new(0, 0, frame.cols(), frame.rows());
            if dst.width > 0 && dst.height > 0 {
                let src = Rect::new(
                    dst.x - b.x as i32,
                    dst.y - b.y as i32,
                    dst.width,
                    dst.height,
                );
                let from = patch.roi(src)?;
                let mut to = frame.roi_mut(dst)?;
                from.copy_to(&mut to)?;
            }
        }
        Ok(frame)
    }
}

/// Writes a clip as a video file (by extension, e.g. `.mp4`) or, for a path without extension, as an OTB-layout
/// sequence folder (`img/0001.jpg`...), plus OTB ground truth (1-based `x,y,w,h`, `NaN` rows while absent): at
/// `truth_path`, or with several targets one file per target (`truth.1.txt`, `truth.2.txt`, ...: for a folder's
/// `groundtruth_rect.txt`, OTB's layout of a sequence with several targets).
pub fn write_clip(clip: &Clip, out: &std::path::Path, truth_path: &std::path::Path) -> Result<()> {
    use opencv::{imgcodecs, videoio};
    let spec = clip.spec();
    let mut writer = None;
    if out.extension().is_some() {
        // AVI holds Motion-JPEG (every frame on its own, so a cut file still decodes up to the cut); others MPEG-4.
        let fourcc = if out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("avi"))
        {
            videoio::VideoWriter::fourcc('M', 'J', 'P', 'G')?
        } else {
            videoio::VideoWriter::fourcc('m', 'p', '4', 'v')?
        };
        let w =
            videoio::VideoWriter::new(out, fourcc, 30.0, Size::new(spec.width, spec.height), true)?;
        anyhow::ensure!(w.is_opened()?, "cannot write video {}", out.display());
        writer = Some(w);
    } else {
        std::fs::create_dir_all(out.join("img"))?;
    }
    let mut truths = vec![String::new(); spec.targets];
    for i in 0..spec.frames {
        let frame = clip.frame(i)?;
        match writer.as_mut() {
            Some(w) => w.write(&frame)?,
            None => {
                let path = out.join("img").join(format!("{:04}.jpg", i + 1));
                let params =
                    opencv::core::Vector::<i32>::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 92]);
                anyhow::ensure!(imgcodecs::imwrite(&path, &frame, &params)?);
            }
        }
        for (k, truth) in truths.iter_mut().enumerate() {
            *truth += &match clip.target_truth(k, i) {
                Some(b) => format!("{},{},{},{}\n", b.x + 1.0, b.y + 1.0, b.w, b.h),
                None => "NaN,NaN,NaN,NaN\n".to_string(),
            };
        }
    }
    if let Some(mut w) = writer {
        w.release()?;
    }
    for (path, truth) in per_target_paths(truth_path, spec.targets)
        .iter()
        .zip(truths)
    {
        std::fs::write(path, truth)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_put_targets_over_one_another() {
        let spec = |scene| ClipSpec {
            width: 320,
            height: 180,
            frames: 150,
            seed: 5,
            absent: None,
            targets: 2,
            scene,
        };
        let passing = Clip::new(spec(Scene::Passing)).unwrap();
        let still = passing.target_truth(0, 0).unwrap();
        assert!((0..150).all(|i| passing.target_truth(0, i) == Some(still)));
        let overlaps = (0..150)
            .filter(|&i| passing.target_truth(1, i).unwrap().iou(&still) > 0.3)
            .count();
        assert!(overlaps >= 20, "{overlaps} frames over the still target");
        assert_eq!(passing.target_truth(1, 0).unwrap().iou(&still), 0.0);
        let nested = Clip::new(spec(Scene::Nested)).unwrap();
        for i in 0..150 {
            let (outer, inner) = (
                nested.target_truth(0, i).unwrap(),
                nested.target_truth(1, i).unwrap(),
            );
            assert!(outer.w * outer.h > 10.0 * inner.w * inner.h, "frame {i}");
            assert!(
                inner.x >= outer.x
                    && inner.y >= outer.y
                    && inner.x + inner.w <= outer.x + outer.w
                    && inner.y + inner.h <= outer.y + outer.h,
                "frame {i}: {inner} outside {outer}"
            );
        }
        let alone = Clip::new(ClipSpec {
            targets: 1,
            ..spec(Scene::Nested)
        });
        assert!(alone.is_err());
    }

    #[test]
    fn truth_matches_the_pasted_target_and_absence() {
        let spec = ClipSpec {
            width: 160,
            height: 120,
            frames: 40,
            seed: 3,
            absent: Some(10..20),
            targets: 1,
            scene: Scene::Crossing,
        };
        let clip = Clip::new(spec).unwrap();
        assert!(clip.truth(15).is_none());
        let b = clip.truth(5).unwrap();
        assert!(b.w > 4.0 && b.h > 4.0);
        // Same seed, same frames; the target shows where the truth says.
        let again = Clip::new(clip.spec().clone()).unwrap();
        let (f1, f2) = (clip.frame(5).unwrap(), again.frame(5).unwrap());
        assert_eq!(f1.data_bytes().unwrap(), f2.data_bytes().unwrap());
        let away = clip.frame(15).unwrap();
        assert_eq!(
            away.data_bytes().unwrap(),
            clip.background.data_bytes().unwrap()
        );
        let (cx, cy) = b.center();
        assert_ne!(
            f1.at_2d::<opencv::core::Vec3b>(cy as i32, cx as i32)
                .unwrap(),
            clip.background
                .at_2d::<opencv::core::Vec3b>(cy as i32, cx as i32)
                .unwrap()
        );
    }
}
