"""Training images of a LoRA: read, checked to be native pixel art, captioned, digested, upscaled.

Invariants the trainer relies on:

- Every image is pixel art at its native size (one file pixel per art pixel): `find_grid` must
  read scale 1. Enlarged art would teach the LoRA one blurry cell size; it is refused, with the
  scale found, so the user reduces it first.
- Transparent pixels are composited over one fixed background colour (white unless the caller
  says otherwise): SDXL paints RGB, and a fixed colour is one thing to learn (and to key out).
- Upscaling is nearest by one integer factor per image, never a blur: every art pixel becomes an
  f x f block of one colour. The art is centred on a canvas of its *aspect bucket* (width and
  height multiples of 64, area at most resolution², sides at most 4:1) with whole cells of
  background around it, so cell borders fall on multiples of f from the canvas's top-left
  corner; the bucket is the one giving the largest factor, then the one nearest the art's shape.
- The dataset digest covers each image's RGBA bytes and shape, caption and name, and the
  background; `image_digests` lets a caller name the first image that changed.

Pure numpy and Pillow: nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixelbuild.cache.hashing import digest_bytes, digest_json
from pixelbuild.errors import Issue
from pixelbuild.images import read_image
from pixelbuild.pixel.gridfind import NoGridError, find_grid
from pixelbuild.train.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".webp", ".gif")
BUCKET_STEP = 64  # SDXL latents are 1/8 of the image and the UNet halves them three times
MAX_ASPECT = 4.0
WHITE = (255, 255, 255)

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class TrainImage:
    """One training image: its native RGBA pixels, its caption and its digest."""

    name: str  # the file stem
    path: Path
    rgba: np.ndarray  # (h, w, 4) uint8, native size, as read
    caption: str
    digest: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in art pixels."""
        return self.rgba.shape[1], self.rgba.shape[0]


@dataclass(frozen=True)
class Dataset:
    """The checked images of a folder, in file-name order, and what they were prepared with."""

    folder: Path
    images: tuple[TrainImage, ...]
    background: RGB
    digest: str

    @property
    def image_digests(self) -> dict[str, str]:
        """File name -> that image's digest (pixels, caption, name)."""
        return {img.path.name: img.digest for img in self.images}

    def first_changed(self, previous: Mapping[str, str]) -> str | None:
        """The first file name (in order) that is new or changed against `previous` (an earlier
        `image_digests`), else the first one that is gone, else None."""
        for name, digest in self.image_digests.items():
            if previous.get(name) != digest:
                return name
        gone = sorted(set(previous) - set(self.image_digests))
        return gone[0] if gone else None


@dataclass(frozen=True)
class Sample:
    """A training image upscaled onto its bucket: `pixels` is (height, width, 3) uint8 RGB."""

    image: TrainImage
    pixels: np.ndarray
    factor: int
    bucket: tuple[int, int]  # (width, height)


def list_images(folder: Path) -> list[Path]:
    """The png/webp/gif regular files directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def caption_for(path: Path, captions: str, trigger: str) -> str:
    """The caption of the image at `path`.

    `captions` is "none" (the trigger alone), "txt" (the `.txt` file beside the image) or a
    template. Templates and `.txt` captions may hold `{trigger}` and `{name}` (the file stem with
    `-` and `_` as spaces); a caption that does not mention the trigger gets it in front.
    Raises FileNotFoundError naming the missing `.txt`.
    """
    if captions == "none":
        return trigger
    if captions == "txt":
        txt = path.with_suffix(".txt")
        if not txt.is_file():
            raise FileNotFoundError(txt)
        template = txt.read_text(encoding="utf-8").strip()
    else:
        template = captions
    name = path.stem.replace("-", " ").replace("_", " ")
    text = template.replace("{trigger}", trigger).replace("{name}", name).strip()
    if trigger and trigger not in text:
        text = f"{trigger}, {text}" if text else trigger
    return text


def native_problem(rgba: np.ndarray) -> str | None:
    """Why `rgba` is not pixel art at its native size, or None."""
    h, w = rgba.shape[:2]
    try:
        fit = find_grid(rgba)
    except NoGridError as exc:
        return (
            f"does not look like pixel art ({exc}); training wants pixel art at its native "
            "size, one file pixel per art pixel"
        )
    sx, sy = fit.scale
    if max(sx, sy) > 1.0:
        found = f"{sx:.3g}" if abs(sx - sy) < 1e-6 else f"{sx:.3g} x {sy:.3g}"
        return (
            f"is pixel art enlarged about {found} times ({w}x{h} pixels for {fit.size[0]}x"
            f"{fit.size[1]} art pixels); train on the native size: reduce it first (e.g. an "
            "`image:` import with `size: auto`, or a nearest-neighbour resize)"
        )
    return None


def composite(rgba: np.ndarray, background: RGB) -> np.ndarray:
    """RGBA over an opaque `background` colour: (h, w, 3) uint8."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    bg = np.asarray(background, np.float32)
    rgb = rgba[..., :3].astype(np.float32) * alpha + bg * (1.0 - alpha)
    return np.rint(rgb).astype(np.uint8)


def image_digest(name: str, rgba: np.ndarray, caption: str) -> str:
    """The digest of one training image: its name, caption, shape and RGBA bytes."""
    pixels = digest_bytes(np.ascontiguousarray(rgba, dtype=np.uint8).tobytes())
    return digest_json({"name": name, "caption": caption, "shape": rgba.shape, "pixels": pixels})


def load_dataset(
    folder: Path, trigger: str, captions: str = "none", background: RGB = WHITE
) -> Dataset:
    """Read and check every image of `folder` (see the module docstring).

    Raises DatasetError listing every image that is unreadable, lacks its `.txt` caption, or is
    not native pixel art (all at once), or saying that the folder holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError([(folder, "is not a folder of training images")], folder)
    problems: list[tuple[Path, str]] = []
    images: list[TrainImage] = []
    for path in list_images(folder):
        try:
            rgba = read_image(path)
        except Issue as exc:
            problems.append((path, exc.message))
            continue
        try:
            caption = caption_for(path, captions, trigger)
        except FileNotFoundError as exc:
            problems.append((path, f"has no caption file {Path(str(exc)).name} beside it"))
            continue
        reason = native_problem(rgba)
        if reason is not None:
            problems.append((path, reason))
            continue
        images.append(
            TrainImage(path.stem, path, rgba, caption, image_digest(path.name, rgba, caption))
        )
    if problems:
        raise DatasetError(problems, folder)
    if not images:
        kinds = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
        raise DatasetError([(folder, f"holds no training images ({kinds})")], folder)
    digest = digest_json(
        {"background": list(background), "images": [[i.path.name, i.digest] for i in images]}
    )
    return Dataset(folder, tuple(images), background, digest)


def buckets(resolution: int) -> list[tuple[int, int]]:
    """The (width, height) buckets of `resolution`: multiples of 64, area <= resolution², the
    largest height for each width, sides at most 4:1."""
    if resolution < BUCKET_STEP or resolution % BUCKET_STEP:
        raise ValueError(f"resolution must be a multiple of {BUCKET_STEP}, got {resolution}")
    area = resolution * resolution
    out = []
    for w in range(BUCKET_STEP, area // BUCKET_STEP + 1, BUCKET_STEP):
        h = area // w // BUCKET_STEP * BUCKET_STEP
        if h >= BUCKET_STEP and max(w, h) / min(w, h) <= MAX_ASPECT:
            out.append((w, h))
    return out


def choose_bucket(size: tuple[int, int], resolution: int) -> tuple[tuple[int, int], int]:
    """The bucket for art of `size` (width, height) and its integer factor: the largest factor,
    then the bucket whose shape is nearest the art's. The factor is 0 when the art fits none."""
    w, h = size
    aspect = math.log(w / h)

    def rank(b: tuple[int, int]) -> tuple[int, float]:
        return (min(b[0] // w, b[1] // h), -abs(math.log(b[0] / b[1]) - aspect))

    best = max(buckets(resolution), key=rank)
    return best, rank(best)[0]


def place(art: np.ndarray, bucket: tuple[int, int], factor: int, background: RGB) -> np.ndarray:
    """`art` (h, w, 3) enlarged `factor` times (nearest) and centred on a `bucket` canvas of
    `background`, whole cells from the top-left corner."""
    h, w = art.shape[:2]
    bw, bh = bucket
    canvas = np.empty((bh, bw, 3), np.uint8)
    canvas[:] = np.asarray(background, np.uint8)
    x0 = (bw // factor - w) // 2 * factor
    y0 = (bh // factor - h) // 2 * factor
    big = np.repeat(np.repeat(art, factor, axis=0), factor, axis=1)
    canvas[y0 : y0 + h * factor, x0 : x0 + w * factor] = big
    return canvas


def prepare(dataset: Dataset, resolution: int, flip: bool = False) -> list[Sample]:
    """Every image of `dataset` upscaled onto its bucket at `resolution`; with `flip`, each one's
    mirror image follows it. Raises DatasetError for art larger than the resolution allows."""
    samples: list[Sample] = []
    problems: list[tuple[Path, str]] = []
    for image in dataset.images:
        bucket, factor = choose_bucket(image.size, resolution)
        if factor < 1:
            w, h = image.size
            problems.append(
                (image.path, f"is {w}x{h}, larger than training at resolution {resolution} allows")
            )
            continue
        art = composite(image.rgba, dataset.background)
        samples.append(
            Sample(image, place(art, bucket, factor, dataset.background), factor, bucket)
        )
        if flip:
            mirrored = place(art[:, ::-1], bucket, factor, dataset.background)
            samples.append(Sample(image, mirrored, factor, bucket))
    if problems:
        raise DatasetError(problems, dataset.folder)
    return samples
