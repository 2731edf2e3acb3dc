//! Axis-aligned boxes in pixel coordinates, and the text forms users and benchmarks write them in.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A box in 0-based pixel coordinates: top-left corner `(x, y)`, width `w`, height `h`.
///
/// ```
/// use siamtrack_core::BBox;
/// let b = BBox::parse("10,20,40,30").unwrap();
/// assert_eq!(b, BBox::new(10.0, 20.0, 40.0, 30.0));
/// assert_eq!(b.center(), (30.0, 35.0));
/// assert_eq!(b.iou(&BBox::new(30.0, 20.0, 40.0, 30.0)), 1.0 / 3.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Why box text could not be read.
#[derive(Debug, Error, PartialEq)]
pub enum BoxError {
    #[error("expected 4 numbers x,y,w,h (or 8 polygon coordinates), got {0} in {1:?}")]
    Arity(usize, String),
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("box {0:?} has a non-finite value")]
    NotFinite(String),
    #[error("box width and height must be positive, got w={0} h={1}")]
    NonPositive(f64, f64),
}

/// `x,y,w,h`, as `--bbox` takes it.
impl std::fmt::Display for BBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{},{}", self.x, self.y, self.w, self.h)
    }
}

impl BBox {
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Self { x, y, w, h }
    }

    pub fn from_center(cx: f64, cy: f64, w: f64, h: f64) -> Self {
        Self::new(cx - w / 2.0, cy - h / 2.0, w, h)
    }

    pub fn center(&self) -> (f64, f64) {
        (self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    pub fn area(&self) -> f64 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    pub fn is_finite(&self) -> bool {
        [self.x, self.y, self.w, self.h]
            .iter()
            .all(|v| v.is_finite())
    }

    /// Intersection over union; 0 for disjoint or degenerate boxes.
    pub fn iou(&self, other: &BBox) -> f64 {
        let ix = (self.x + self.w).min(other.x + other.w) - self.x.max(other.x);
        let iy = (self.y + self.h).min(other.y + other.h) - self.y.max(other.y);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    pub fn center_distance(&self, other: &BBox) -> f64 {
        let (ax, ay) = self.center();
        let (bx, by) = other.center();
        (ax - bx).hypot(ay - by)
    }

    /// Whether the box overlaps a `width` x `height` frame at all.
    pub fn overlaps_frame(&self, width: f64, height: f64) -> bool {
        self.x < width && self.y < height && self.x + self.w > 0.0 && self.y + self.h > 0.0
    }

    /// Parses `x,y,w,h` as given on the command line (0-based pixels); commas, tabs or spaces separate.
    pub fn parse(text: &str) -> Result<BBox, BoxError> {
        match parse_annotation(text)? {
            Some(b) if b.w > 0.0 && b.h > 0.0 => Ok(b),
            Some(b) => Err(BoxError::NonPositive(b.w, b.h)),
            None => Err(BoxError::NotFinite(text.trim().to_string())),
        }
    }
}

/// Parses one ground-truth line: 4 values `x,y,w,h` or an 8-value polygon (VOT), whose axis-aligned bounding box is
/// taken. Values are returned as written (no change of origin). `Ok(None)` means the target is absent (NaN values, or
/// a zero-size box as VOT writes for absence).
pub fn parse_annotation(line: &str) -> Result<Option<BBox>, BoxError> {
    let fields: Vec<&str> = line
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    let values = fields
        .iter()
        .map(|s| {
            s.parse::<f64>()
                .map_err(|_| BoxError::NotANumber(s.to_string()))
        })
        .collect::<Result<Vec<f64>, _>>()?;
    if values.iter().any(|v| v.is_nan()) {
        return Ok(None);
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(BoxError::NotFinite(line.trim().to_string()));
    }
    let b = match values.len() {
        4 => BBox::new(values[0], values[1], values[2], values[3]),
        8 => {
            let xs = values.iter().step_by(2);
            let ys = values.iter().skip(1).step_by(2);
            let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let (y0, y1) = ys.fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            BBox::new(x0, y0, x1 - x0, y1 - y0)
        }
        n => return Err(BoxError::Arity(n, line.trim().to_string())),
    };
    if b.w == 0.0 && b.h == 0.0 {
        return Ok(None);
    }
    Ok(Some(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_known_boxes() {
        let a = BBox::new(0.0, 0.0, 10.0, 10.0);
        assert_eq!(a.iou(&a), 1.0);
        // Shifted by half its width: intersection 50, union 150.
        let b = BBox::new(5.0, 0.0, 10.0, 10.0);
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(a.iou(&BBox::new(20.0, 20.0, 5.0, 5.0)), 0.0);
    }

    #[test]
    fn displays_as_the_bbox_flag_takes_it() {
        let b = BBox::new(1.0, 2.5, 30.0, 4.0);
        assert_eq!(b.to_string(), "1,2.5,30,4");
        assert_eq!(BBox::parse(&b.to_string()).unwrap(), b);
    }

    #[test]
    fn parses_separators_and_polygons() {
        let want = Some(BBox::new(1.0, 2.0, 3.0, 4.0));
        assert_eq!(parse_annotation("1,2,3,4").unwrap(), want);
        assert_eq!(parse_annotation("1\t2\t3\t4\n").unwrap(), want);
        assert_eq!(parse_annotation(" 1 2  3 4").unwrap(), want);
        assert_eq!(parse_annotation("NaN,NaN,NaN,NaN").unwrap(), None);
        assert_eq!(
            parse_annotation("1,2,4,2,4,6,1,6").unwrap(),
            Some(BBox::new(1.0, 2.0, 3.0, 4.0))
        );
        assert_eq!(
            parse_annotation("1,2,3"),
            Err(BoxError::Arity(3, "1,2,3".into()))
        );
        assert_eq!(
            parse_annotation("1,2,x,4"),
            Err(BoxError::NotANumber("x".into()))
        );
    }

    #[test]
    fn cli_box_must_be_positive_and_finite() {
        assert_eq!(
            BBox::parse("10,20,30,40").unwrap(),
            BBox::new(10.0, 20.0, 30.0, 40.0)
        );
        assert_eq!(
            BBox::parse("10,20,0,40"),
            Err(BoxError::NonPositive(0.0, 40.0))
        );
        assert_eq!(
            BBox::parse("10,20,-5,40"),
            Err(BoxError::NonPositive(-5.0, 40.0))
        );
        assert!(matches!(
            BBox::parse("nan,1,2,3"),
            Err(BoxError::NotFinite(_))
        ));
        assert!(matches!(
            BBox::parse("inf,1,2,3"),
            Err(BoxError::NotFinite(_))
        ));
    }
}
