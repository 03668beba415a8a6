"""sRGB <-> OKLab conversions (Björn Ottosson's OKLab), vectorised, float32.

All functions take arrays whose last axis holds the three channels. sRGB values are 0..255 (uint8 or
float); OKLab L is about 0..1 and a, b about -0.4..0.4.
"""

from __future__ import annotations

import numpy as np

_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ],
    dtype=np.float32,
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ],
    dtype=np.float32,
)
_M2_INV = np.array(
    [
        [1.0, 0.3963377774, 0.2158037573],
        [1.0, -0.1055613458, -0.0638541728],
        [1.0, -0.0894841775, -1.2914855480],
    ],
    dtype=np.float32,
)
_M1_INV = np.array(
    [
        [4.0767416621, -3.3077115913, 0.2309699292],
        [-1.2684380046, 2.6097574011, -0.3413193965],
        [-0.0041960863, -0.7034186147, 1.7076147010],
    ],
    dtype=np.float32,
)


def _srgb_to_linear_f(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float32) / np.float32(255.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


#: Linear-light value of every 8-bit sRGB level.
SRGB_TO_LINEAR_LUT = _srgb_to_linear_f(np.arange(256))


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0..255 (uint8 via a table, or float) -> linear light 0..1, float32."""
    rgb = np.asarray(rgb)
    if rgb.dtype == np.uint8:
        return SRGB_TO_LINEAR_LUT[rgb]
    return _srgb_to_linear_f(np.clip(rgb, 0, 255))


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """Linear light 0..1 -> sRGB 0..255 as float32 (not rounded)."""
    c = np.clip(np.asarray(lin, dtype=np.float32), 0.0, 1.0)
    out = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return (out * 255.0).astype(np.float32)


def linear_to_oklab(lin: np.ndarray) -> np.ndarray:
    """Linear sRGB -> OKLab, float32."""
    lms = np.asarray(lin, dtype=np.float32) @ _M1.T
    return (np.cbrt(lms) @ _M2.T).astype(np.float32)


def oklab_to_linear(lab: np.ndarray) -> np.ndarray:
    """OKLab -> linear sRGB (may fall outside 0..1 for out-of-gamut colours), float32."""
    lms_ = np.asarray(lab, dtype=np.float32) @ _M2_INV.T
    return ((lms_**3) @ _M1_INV.T).astype(np.float32)


def srgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0..255 -> OKLab, float32."""
    return linear_to_oklab(srgb_to_linear(rgb))


def oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """OKLab -> sRGB 0..255 as uint8 (rounded, clipped to the gamut)."""
    return np.round(linear_to_srgb(oklab_to_linear(lab))).astype(np.uint8)
