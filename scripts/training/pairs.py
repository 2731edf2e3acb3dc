"""Training pairs: (template crop, search crop, label map) sampled from sequences and COCO images, augmented.

Every batch is drawn from its own generator seeded by (seed, step), so a resumed run or a run with worker
processes sees exactly the same batches as one uninterrupted single-process run.
"""
import math
from dataclasses import dataclass

import cv2
import numpy as np

import crops
from sequences import load_sequences, load_yolo_images, yolo_to_otb

MIN_TARGET_PX = 8  # smaller boxes carry almost no appearance at 127 px / s_z


@dataclass
class Augment:
    template_shift: float = 4.0  # max template offset, template-crop pixels
    template_scale: float = 0.05  # max |log scale| of the template window
    search_shift: float = 64.0  # max target offset from the search-crop centre, search-crop pixels
    search_scale: float = 0.18  # max |log scale| of the search window
    aspect: float = 0.1  # max |log aspect| stretch of either window
    colour: float = 0.2  # max per-channel gain change and brightness shift (fraction of 255)
    blur_prob: float = 0.2  # Gaussian blur of the search crop, sigma 0.5..1.5
    flip_prob: float = 0.5  # horizontal flip of both crops
    grey_prob: float = 0.1  # both crops to grey


class PairSampler:
    def __init__(self, sequence_roots, yolo_roots, max_gap, coco_prob, negative_prob, augment, response_size,
                 pos_radius, total_stride, mean, std):
        self.sequences = [s for root in sequence_roots for s in load_sequences(root)]
        self.valid_frames = [np.array([i for i in range(len(s.frames)) if self._usable(s.boxes[i])])
                             for s in self.sequences]
        keep = [k for k, v in enumerate(self.valid_frames) if len(v) >= 2]
        self.sequences = [self.sequences[k] for k in keep]
        self.valid_frames = [self.valid_frames[k] for k in keep]
        self.images = [(path, boxes) for root in yolo_roots for path, boxes in load_yolo_images(root)]
        self.max_gap = max_gap
        self.coco_prob = coco_prob if self.images else 0.0
        self.negative_prob = negative_prob
        self.aug = augment
        self.response_size = response_size
        self.pos_radius = pos_radius
        self.total_stride = total_stride
        self.mean, self.std = mean, std

    @staticmethod
    def _usable(box):
        return bool(np.all(np.isfinite(box)) and min(box[2], box[3]) >= MIN_TARGET_PX)

    def raw_batch(self, seed, step, batch_size):
        """[(template uint8, search uint8, label map)] * batch_size; deterministic in (seed, step)."""
        rng = np.random.default_rng([seed, step])
        return [self.sample(rng) for _ in range(batch_size)]

    def batch(self, seed, step, batch_size):
        """(templates, searches) float32 NCHW normalised, labels float32 [B,1,R,R]."""
        templates, searches, labels = zip(*self.raw_batch(seed, step, batch_size))
        return (crops.normalise(templates, self.mean, self.std), crops.normalise(searches, self.mean, self.std),
                np.stack(labels)[:, None].astype(np.float32))

    def sample(self, rng):
        """One augmented (template uint8, search uint8, label map) triple."""
        source, (z_img, z_box), (x_img, x_box) = self._source_pair(rng)
        negative = rng.random() < self.negative_prob
        if negative:
            x_img, x_box = self._random_object(rng, avoid=source)
        template, _ = self._crop(rng, z_img, z_box, crops.TEMPLATE_SIZE, self.aug.template_shift,
                                 self.aug.template_scale)
        search, offset = self._crop(rng, x_img, x_box, crops.SEARCH_SIZE, self.aug.search_shift,
                                    self.aug.search_scale)
        template, search = self._colour(rng, template), self._colour(rng, search)
        if rng.random() < self.aug.blur_prob:
            search = cv2.GaussianBlur(search, (0, 0), rng.uniform(0.5, 1.5))
        if rng.random() < self.aug.flip_prob:
            template, search = template[:, ::-1], search[:, ::-1]
            offset = (-offset[0], offset[1])
        if rng.random() < self.aug.grey_prob:
            template, search = self._grey(template), self._grey(search)
        label = np.zeros((self.response_size, self.response_size)) if negative else self.label(offset)
        return np.ascontiguousarray(template), np.ascontiguousarray(search), label

    def label(self, offset):
        """1 where a response cell lies within pos_radius cells of the target's offset from the search centre."""
        cells = (np.arange(self.response_size) - (self.response_size - 1) / 2) * self.total_stride
        dx, dy = offset
        dist = np.hypot(cells[None, :] - dx, cells[:, None] - dy) / self.total_stride
        return (dist <= self.pos_radius).astype(np.float32)

    def _source_pair(self, rng):
        """(source id, (image, 1-based box), (image, box)): one target in two frames of a sequence or in one COCO image."""
        if rng.random() < self.coco_prob:
            source, img, box = self._coco_object(rng)
            return source, (img, box), (img, box)
        k = rng.integers(len(self.sequences))
        seq, valid = self.sequences[k], self.valid_frames[k]
        i = valid[rng.integers(len(valid))]
        near = valid[(np.abs(valid - i) <= self.max_gap) & (valid != i)]
        j = near[rng.integers(len(near))] if len(near) else i
        return ("seq", k), (crops.read_rgb(seq.frames[i]), seq.boxes[i]), (crops.read_rgb(seq.frames[j]), seq.boxes[j])

    def _coco_object(self, rng):
        while True:
            n = rng.integers(len(self.images))
            path, boxes = self.images[n]
            img = crops.read_rgb(path)
            box = yolo_to_otb(boxes[rng.integers(len(boxes))], img.shape[1], img.shape[0])
            if self._usable(box):
                return ("coco", n), img, box

    def _random_object(self, rng, avoid):
        """A distractor: a target of another sequence or COCO image than the template's source."""
        while True:
            if rng.random() < self.coco_prob:
                source, img, box = self._coco_object(rng)
            else:
                k = rng.integers(len(self.sequences))
                i = self.valid_frames[k][rng.integers(len(self.valid_frames[k]))]
                source, img, box = ("seq", k), crops.read_rgb(self.sequences[k].frames[i]), self.sequences[k].boxes[i]
            if source != avoid:
                return img, box

    def _crop(self, rng, img, box, size, max_shift, max_log_scale):
        """Crop with SiamFC geometry, randomly shifted/scaled/stretched; returns the crop and the target's offset
        from the crop centre in crop pixels."""
        cx, cy, w, h = crops.otb_box_to_center(box)
        side = crops.template_side(w, h) * size / crops.TEMPLATE_SIZE
        side *= math.exp(rng.uniform(-max_log_scale, max_log_scale))
        stretch = math.exp(rng.uniform(-self.aug.aspect, self.aug.aspect) / 2)
        side_x, side_y = side * stretch, side / stretch
        dx, dy = rng.uniform(-max_shift, max_shift, size=2)
        crop = crops.crop_square(img, cx - dx * side_x / size, cy - dy * side_y / size, side_x, size, side_y=side_y)
        return crop, (dx, dy)

    def _colour(self, rng, img):
        gain = 1 + rng.uniform(-self.aug.colour, self.aug.colour, size=3)
        shift = rng.uniform(-self.aug.colour, self.aug.colour) * 255
        return np.clip(img.astype(np.float32) * gain + shift, 0, 255).astype(np.uint8)

    @staticmethod
    def _grey(img):
        return np.repeat(cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


def contact_sheet(path, templates_u8, searches_u8, labels, total_stride):
    """PNG grid, one row per pair: template | search with positive label cells marked (red border = distractor)."""
    rows = []
    for template, search, label in zip(templates_u8, searches_u8, labels):
        search = np.ascontiguousarray(search).copy()
        r = label.shape[-1]
        for v, u in zip(*np.nonzero(label)):
            centre = (int(round((crops.SEARCH_SIZE - 1) / 2 + (u - (r - 1) / 2) * total_stride)),
                      int(round((crops.SEARCH_SIZE - 1) / 2 + (v - (r - 1) / 2) * total_stride)))
            cv2.circle(search, centre, 2, (0, 255, 0), -1)
        if not label.any():
            cv2.rectangle(search, (0, 0), (crops.SEARCH_SIZE - 1, crops.SEARCH_SIZE - 1), (255, 0, 0), 4)
        pad = np.zeros((crops.SEARCH_SIZE - crops.TEMPLATE_SIZE, crops.TEMPLATE_SIZE, 3), np.uint8)
        rows.append(np.hstack([np.vstack([template, pad]), search]))
    half = (len(rows) + 1) // 2
    left, right = np.vstack(rows[:half]), np.vstack(rows[half:] or [np.zeros_like(rows[0])])
    right = np.vstack([right, np.zeros((left.shape[0] - right.shape[0],) + right.shape[1:], np.uint8)])
    cv2.imwrite(str(path), cv2.cvtColor(np.hstack([left, right]), cv2.COLOR_RGB2BGR))
