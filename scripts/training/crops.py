"""SiamFC crop geometry and input normalisation, shared by training, export and the Python dev evaluation.

Coordinates are 0-based with pixel i's centre at i. A 1-based OTB box (x, y, w, h) covers pixels x..x+w-1, so its
centre is (x - 1 + (w - 1) / 2, y - 1 + (h - 1) / 2).
"""
import math

import cv2
import numpy as np

TEMPLATE_SIZE = 127
SEARCH_SIZE = 255
CONTEXT = 0.5


def read_rgb(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(path)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def otb_box_to_center(box):
    x, y, w, h = box
    return x - 1 + (w - 1) / 2, y - 1 + (h - 1) / 2, w, h


def template_side(w, h, context=CONTEXT):
    """s_z: side of the square around the target that is resized to the template size."""
    p = context * (w + h)
    return math.sqrt((w + p) * (h + p))


def crop_square(img, cx, cy, side, out_size, pad_color=None, side_y=None):
    """Square of `side` source pixels centred on (cx, cy), resized to out_size; outside = the image's mean colour.

    Output pixel j samples the source at cx + (j - (out_size - 1) / 2) * side / out_size (bilinear).
    side_y (training augmentation only) makes the source window a rectangle, stretching the target's aspect.
    """
    if pad_color is None:
        pad_color = img.reshape(-1, 3).mean(0)
    ax, ay = side / out_size, (side_y or side) / out_size
    dst_to_src = np.array([[ax, 0, cx - ax * (out_size - 1) / 2],
                           [0, ay, cy - ay * (out_size - 1) / 2]], dtype=np.float64)
    return cv2.warpAffine(img, dst_to_src, (out_size, out_size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(c) for c in pad_color))


def normalise(crops, mean, std):
    """uint8 HWC RGB crops -> float32 NCHW, (pixel/255 - mean) / std, exactly as the Rust tracker does."""
    x = np.asarray(crops, dtype=np.float32) / 255.0
    x = (x - np.asarray(mean, dtype=np.float32)) / np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
