"""Reference images through an IP-Adapter on an SDXL pipeline: loaded once, switched per batch.

A request's references count ("are active") when it has some and its `reference_scale` is not 0.
An active batch runs with the adapter's attention processors switched into the UNet at the
request's scale; every other batch runs on the UNet's own processors, swapped back in, so a request
without references paints bit for bit what it paints on a pipeline that never held an adapter.

Batching: a diffusers SDXL call takes one set of reference images for all its images: the
pipeline repeats the embedding of `ip_adapter_image` (or of `ip_adapter_image_embeds`) once per
prompt, so per-request embeddings stacked along the batch would be repeated again and mixed
between images. Requests therefore share a call only when they share the adapter, the scale and
the references themselves, by content digest (`reference_key`); the frames and views of one
character, which name the same reference, still batch. The set is encoded once, by the pipeline's
own `prepare_ip_adapter_image_embeds(ip_adapter_image=[images])`, cached by those digests, and
passed as `ip_adapter_image_embeds`.

Images: RGBA is composited over white (`sampling.BACKGROUND`, as img2img bases are), padded to a
square with white (the encoder centre-crops, which would cut a tall sprite's head and feet), then
enlarged by a whole factor with nearest neighbour until it covers the encoder's crop, so pixel art
stays crisp before the image processor's own resize.

Where the adapter lives (`GenerateRequest.ip_adapter`, a `ModelRef`):

- "file": `location` is the weights file: `.safetensors` holding `image_proj.*` and `ip_adapter.*`
  tensors (h94/IP-Adapter's layout); a pickled `.bin` only with `allow_pickle`.
- "folder": `location` is a folder holding exactly one such weights file at its top.
- "hub": `location` is `owner/repo/path/in/repo/weights.safetensors`, read from the local Hugging
  Face cache (downloaded, only those files, when the engine allows downloads).

The image encoder, a transformers `CLIPVisionModelWithProjection` folder (config.json and
weights; a `preprocessor_config.json` beside them sets the image processor), is `config` when set:
a local folder, a folder inside the adapter's folder or repository (for "hub", a path in the
repository such as `models/image_encoder`), or a hub repository `owner/repo[/subfolder]`. Without
`config` it is the `image_encoder/` folder beside the weights file (h94/IP-Adapter's layout:
`sdxl_models/image_encoder`).

torch, diffusers and transformers are imported inside the functions only.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixelbuild.cache.hashing import digest_bytes
from pixelbuild.engines.base import GenerateRequest, ModelRef
from pixelbuild.engines.sdxl.models import (
    PICKLE_SUFFIXES,
    _download_hint,
    _hub_snapshot,
    _refuse_pickle,
    model_key,
)
from pixelbuild.engines.sdxl.sampling import BACKGROUND, flatten_alpha
from pixelbuild.errors import EngineError

if TYPE_CHECKING:
    import PIL.Image

_EMBED_CACHE_SIZE = 256
_ENCODER_FOLDER = "image_encoder"
_DEFAULT_SIDE = 224  # CLIP's input size, when an image processor names none


def active_references(request: GenerateRequest) -> bool:
    """Whether `request`'s references change its image: some, at a scale other than 0."""
    return bool(request.references) and request.reference_scale != 0


def reference_key(request: GenerateRequest) -> Hashable:
    """What a batch must share for its references: the adapter, the scale and the references'
    content digests (one of each per pipeline call). None when the references are not active."""
    if not active_references(request):
        return None
    return (
        model_key(request.ip_adapter),
        float(request.reference_scale),
        reference_digests(request),
    )


def reference_digests(request: GenerateRequest) -> tuple[str, ...]:
    """Content digests of `request`'s reference images (shape, dtype and bytes)."""
    out = []
    for image in request.references:
        arr = np.ascontiguousarray(image)
        header = f"{arr.dtype.str}{arr.shape}".encode()
        out.append(digest_bytes(header + arr.tobytes()))
    return tuple(out)


def check_references(request: GenerateRequest) -> None:
    """An EngineError naming the entry unless its references can run (before anything loads)."""
    if not math.isfinite(request.reference_scale):
        raise EngineError.about(
            request.entry, f"reference scale must be a finite number, got {request.reference_scale}"
        )
    if not active_references(request):
        return
    if request.ip_adapter is None:
        raise EngineError.about(
            request.entry,
            "reference images need an IP-Adapter: declare one under `models:` and name it for "
            "the entry's references (or set the reference scale to 0)",
        )
    for i, image in enumerate(request.references, 1):
        try:
            flatten_alpha(image, f"reference {i}")
        except EngineError as exc:
            raise EngineError.about(request.entry, exc.message) from None


def reference_image(array: np.ndarray, side: int, what: str) -> PIL.Image.Image:
    """One reference as the image encoder should see it (see the module docstring)."""
    from PIL import Image

    rgb = flatten_alpha(array, what)
    h, w = rgb.shape[:2]
    n = max(h, w)
    if h != w:  # pad to a square, centred, so the encoder's centre crop keeps everything
        square = np.full((n, n, 3), BACKGROUND, dtype=np.uint8)
        top, left = (n - h) // 2, (n - w) // 2
        square[top : top + h, left : left + w] = rgb
        rgb = square
    image = Image.fromarray(rgb, "RGB")
    factor = math.ceil(side / n)
    if factor > 1:
        image = image.resize((n * factor, n * factor), Image.Resampling.NEAREST)
    return image


# --- where the adapter's files are ------------------------------------------------------------


@dataclass(frozen=True)
class AdapterFiles:
    """The local files of an IP-Adapter: its weights file and its image encoder folder."""

    weights: Path
    encoder: Path


def locate_adapter(ref: ModelRef, allow_download: bool) -> AdapterFiles:
    """The local weights file and image encoder folder of `ref`, or an EngineError saying what
    was looked for and how to get it."""
    what = f"IP-Adapter {ref.name!r}"
    if ref.source == "hub":
        return _locate_hub(ref, allow_download)
    if ref.source == "file":
        weights = Path(ref.location).expanduser()
        if not weights.is_file():
            raise EngineError(f"{what}: weights file {weights} not found")
        root = weights.parent
    elif ref.source == "folder":
        root = Path(ref.location).expanduser()
        if not root.is_dir():
            raise EngineError(f"{what}: folder {root} not found")
        weights = _only_weights(root, ref)
    else:
        raise EngineError(f"{what}: unknown source {ref.source!r}")
    _check_weights_file(weights, ref)
    encoder = _local_encoder(ref, root, weights.parent, allow_download)
    return AdapterFiles(weights, encoder)


def _only_weights(folder: Path, ref: ModelRef) -> Path:
    suffixes = {".safetensors"} | (PICKLE_SUFFIXES if ref.allow_pickle else set())
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if len(found) != 1:
        names = ", ".join(p.name for p in found) or "none"
        raise EngineError(
            f"IP-Adapter {ref.name!r}: folder {folder} must hold exactly one weights file "
            f"(.safetensors) at its top, found {names}; name the file itself instead"
        )
    return found[0]


def _check_weights_file(weights: Path, ref: ModelRef) -> None:
    _refuse_pickle(weights, f"IP-Adapter {ref.name!r}: weights", ref.allow_pickle)
    if weights.suffix.lower() not in PICKLE_SUFFIXES | {".safetensors"}:
        raise EngineError(
            f"IP-Adapter {ref.name!r}: {weights.name} is not an IP-Adapter weights file "
            "(expected .safetensors)"
        )


def _is_encoder(folder: Path) -> bool:
    return (folder / "config.json").is_file()


def _local_encoder(
    ref: ModelRef, root: Path, beside: Path, allow_download: bool, in_root_first: bool = False
) -> Path:
    """The image encoder of an adapter whose files are under `root` (see the module docstring);
    `in_root_first` looks for `config` inside `root` before taking it as a local path."""
    what = f"IP-Adapter {ref.name!r}"
    if not ref.config:
        encoder = beside / _ENCODER_FOLDER
        if not _is_encoder(encoder):
            raise EngineError(
                f"{what}: no image encoder: {encoder} has no config.json; put the CLIP image "
                "encoder folder there or name it in the adapter's `config`"
            )
        return encoder
    tried = []
    candidates = [Path(ref.config).expanduser(), root / ref.config]
    for candidate in candidates[::-1] if in_root_first else candidates:
        if _is_encoder(candidate):
            return candidate
        tried.append(str(candidate))
    found = _hub_encoder(ref.config, allow_download)
    if found is not None:
        return found
    raise EngineError(
        f"{what}: image encoder {ref.config!r} is neither a folder with a config.json "
        f"({' or '.join(tried)}) nor a cached hub repository"
        + (f"; {_download_hint(ref.config)}" if ref.config.count("/") == 1 else "")
    )


def _hub_encoder(spec: str, allow_download: bool) -> Path | None:
    """`owner/repo[/subfolder]` from the hub cache, or None."""
    parts = spec.strip("/").split("/")
    if len(parts) < 2 or spec.startswith((".", "~", "/")):
        return None
    repo, sub = "/".join(parts[:2]), "/".join(parts[2:])
    patterns = [f"{sub}/*"] if sub else None
    snapshot = _hub_snapshot(repo, allow_download, patterns=patterns)
    if snapshot is None:
        return None
    folder = snapshot / sub if sub else snapshot
    return folder if _is_encoder(folder) else None


def _locate_hub(ref: ModelRef, allow_download: bool) -> AdapterFiles:
    what = f"IP-Adapter {ref.name!r}"
    parts = ref.location.strip("/").split("/")
    if len(parts) < 3:
        raise EngineError(
            f"{what}: a hub IP-Adapter is named by its weights file in the repository, "
            f"'owner/repo/path/to/weights.safetensors' (e.g. "
            f"'h94/IP-Adapter/sdxl_models/ip-adapter_sdxl.safetensors'), got {ref.location!r}"
        )
    repo, path = "/".join(parts[:2]), "/".join(parts[2:])
    encoder_in_repo = ref.config or posixpath.join(posixpath.dirname(path), _ENCODER_FOLDER)
    patterns = [path, f"{encoder_in_repo.strip('/')}/*"]
    snapshot = _hub_snapshot(repo, allow_download, patterns=patterns)
    fetch = (
        f"download it once with `hf download {repo} --include {path} "
        f"'{encoder_in_repo}/*'`, or let the engine download it (allow_download / "
        "--allow-download)"
    )
    if snapshot is None or not (snapshot / path).is_file():
        raise EngineError(
            f"{what}: {path} of {repo!r} is not in the local Hugging Face cache; {fetch}"
        )
    weights = snapshot / path
    _check_weights_file(weights, ref)
    if not ref.config:
        encoder = snapshot / encoder_in_repo
        if not _is_encoder(encoder):
            raise EngineError(
                f"{what}: its image encoder {encoder_in_repo}/ of {repo!r} is not in the local "
                f"Hugging Face cache; {fetch}; or name another encoder in the adapter's `config`"
            )
        return AdapterFiles(weights, encoder)
    encoder = _local_encoder(ref, snapshot, weights.parent, allow_download, in_root_first=True)
    return AdapterFiles(weights, encoder)


# --- the adapter on a pipeline ---------------------------------------------------------------


@dataclass
class _Attention:
    """What an IP-Adapter changes in a UNet: its attention processors and image projection."""

    processors: dict[str, Any]
    hid_proj: Any
    hid_type: Any

    @classmethod
    def of(cls, unet: Any) -> _Attention:
        return cls(
            dict(unet.attn_processors),
            unet.encoder_hid_proj,
            getattr(unet.config, "encoder_hid_dim_type", None),
        )

    def apply(self, unet: Any) -> None:
        unet.set_attn_processor(dict(self.processors))  # it pops from the dict it is given
        unet.encoder_hid_proj = self.hid_proj
        # diffusers sets this field the same way (load_ip_adapter / unload_ip_adapter)
        unet.config.encoder_hid_dim_type = self.hid_type


class ReferenceState:
    """Which IP-Adapter a pipeline holds, whether it is switched in, and encoded references.

    `adapter` is the `model_key` of the loaded adapter (None: none loaded); `on` says whether its
    processors are in the UNet now. The UNet's own attention (`_plain`) is kept to switch back to.
    """

    def __init__(self) -> None:
        self.adapter: Hashable | None = None
        self.on = False
        self.scale: float | None = None
        self._plain: _Attention | None = None
        self._ip: _Attention | None = None
        self._embeds: dict[Hashable, Any] = {}

    def activate(
        self, pipe: Any, request: GenerateRequest, entries: str, allow_download: bool
    ) -> None:
        """Make the UNet fit `request` (the first of a batch): the adapter of its active
        references switched in at its scale, or the UNet's own attention when none are active."""
        if not active_references(request):
            self._switch(pipe, on=False)
            return
        ref = request.ip_adapter
        assert ref is not None  # check_references refused active references without one
        if self.adapter != model_key(ref):
            self.unload(pipe)
            self._load(pipe, ref, entries, allow_download)
        self._switch(pipe, on=True)
        scale = float(request.reference_scale)
        if scale != self.scale:
            pipe.set_ip_adapter_scale(scale)
            self.scale = scale

    def image_embeds(
        self, pipe: Any, requests: Sequence[GenerateRequest], cfg: bool, entries: str
    ) -> dict[str, Any]:
        """The pipeline arguments for `requests`' references (one set, shared by the call): {}
        when they are not active, else `ip_adapter_image_embeds` (the pipeline repeats it per
        image)."""
        first = requests[0]
        if not active_references(first):
            return {}
        if any(reference_digests(r) != reference_digests(first) for r in requests[1:]):
            raise EngineError.about(
                entries,
                "requests with different reference images reached one pipeline call; this is a "
                "bug in pixelbuild (their batch keys differ), please report it",
            )
        return {"ip_adapter_image_embeds": [self._encode(pipe, first, cfg)]}

    def unload(self, pipe: Any) -> None:
        """Take the adapter out of `pipe` entirely (the UNet's own attention, no image encoder)."""
        if self.adapter is None:
            return
        self._switch(pipe, on=False)
        pipe.register_modules(image_encoder=None, feature_extractor=None)
        self.adapter, self._plain, self._ip, self.scale = None, None, None, None
        self._embeds.clear()

    # --- internals ------------------------------------------------------------------------

    def _switch(self, pipe: Any, on: bool) -> None:
        if on == self.on or self._plain is None or self._ip is None:
            return
        (self._ip if on else self._plain).apply(pipe.unet)
        self.on = on

    def _encode(self, pipe: Any, request: GenerateRequest, cfg: bool) -> Any:
        """One request's reference embeddings, (2 if cfg else 1, references, ...), cached."""
        key = (reference_digests(request), cfg)
        if key not in self._embeds:
            if len(self._embeds) >= _EMBED_CACHE_SIZE:
                self._embeds.clear()
            side = _encoder_side(pipe.feature_extractor)
            images = [
                reference_image(image, side, f"{request.entry}: reference {i}")
                for i, image in enumerate(request.references, 1)
            ]
            (embeds,) = pipe.prepare_ip_adapter_image_embeds(
                ip_adapter_image=[images],
                ip_adapter_image_embeds=None,
                device=pipe.unet.device,
                num_images_per_prompt=1,
                do_classifier_free_guidance=cfg,
            )
            self._embeds[key] = embeds
        return self._embeds[key]

    def _load(self, pipe: Any, ref: ModelRef, entries: str, allow_download: bool) -> None:
        try:
            files = locate_adapter(ref, allow_download)
        except EngineError as exc:
            raise EngineError.about(entries, exc.message) from exc.__cause__
        try:
            encoder = _load_encoder(pipe, files.encoder, ref)
        except Exception as exc:
            hint = "" if ref.allow_pickle else " (only .safetensors weights are loaded unless "
            hint += "" if ref.allow_pickle else "`allow_pickle: true`)"
            raise EngineError.about(
                entries,
                f"IP-Adapter {ref.name!r}: could not load the image encoder {files.encoder}: "
                f"{type(exc).__name__}: {exc}{hint}",
            ) from exc
        plain = _Attention.of(pipe.unet)
        try:
            pipe.load_ip_adapter(
                str(files.weights.parent),
                subfolder="",
                weight_name=files.weights.name,
                image_encoder_folder=None,  # registered above: loaded here, safetensors only
                local_files_only=True,
            )
            _check_fit(pipe.unet, encoder)
        except Exception as exc:
            plain.apply(pipe.unet)
            pipe.register_modules(image_encoder=None, feature_extractor=None)
            reason = exc.message if isinstance(exc, EngineError) else _reason(exc)
            raise EngineError.about(
                entries,
                f"IP-Adapter {ref.name!r} ({files.weights}, image encoder {files.encoder}) "
                f"does not fit this SDXL model: {reason}",
            ) from exc
        self._ip = _Attention.of(pipe.unet)
        self._plain = plain
        self.adapter = model_key(ref)
        self.on, self.scale = True, None
        self._embeds.clear()


def _load_encoder(pipe: Any, folder: Path, ref: ModelRef) -> Any:
    """Load the CLIP image encoder (and its image processor) into `pipe`."""
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    encoder = CLIPVisionModelWithProjection.from_pretrained(
        folder, local_files_only=True, use_safetensors=None if ref.allow_pickle else True
    ).to(device=pipe.unet.device, dtype=pipe.unet.dtype)
    encoder.eval()
    if (folder / "preprocessor_config.json").is_file():
        processor = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
    else:  # what diffusers builds when none is given
        side = int(encoder.config.image_size)
        processor = CLIPImageProcessor(size=side, crop_size=side)
    pipe.register_modules(image_encoder=encoder, feature_extractor=processor)
    return encoder


def _check_fit(unet: Any, encoder: Any) -> None:
    """Refuse an adapter whose image projection does not take this encoder's embeddings or does
    not give this UNet's cross-attention width (diffusers would fail inside the first call)."""
    from diffusers.models.embeddings import ImageProjection

    (proj,) = unet.encoder_hid_proj.image_projection_layers
    cross = int(unet.config.cross_attention_dim)
    if isinstance(proj, ImageProjection):
        takes, gives = proj.image_embeds.in_features, int(encoder.config.projection_dim)
        width = proj.image_embeds.out_features // proj.num_image_text_embeds
    elif hasattr(proj, "proj_in") and hasattr(proj, "proj_out"):  # IP-Adapter Plus
        takes, gives = proj.proj_in.in_features, int(encoder.config.hidden_size)
        width = proj.proj_out.out_features
    else:
        return
    if takes != gives:
        raise EngineError(
            f"its image projection takes {takes}-wide image embeddings, the image encoder gives "
            f"{gives} (an encoder for another adapter?)"
        )
    if width != cross:
        raise EngineError(
            f"its image tokens are {width} wide, the UNet's cross-attention {cross} (an adapter "
            "for another model?)"
        )


def _reason(exc: Exception) -> str:
    """diffusers' load error without its advice to load mismatched weights at random."""
    text = str(exc).split(" If you want to instead overwrite", 1)[0]
    return f"{type(exc).__name__}: {text.replace('Cannot load  because ', '')}"


def _encoder_side(processor: Any) -> int:
    """The side of the square the image processor feeds the encoder (its crop)."""
    for attr, field in (("crop_size", "height"), ("size", "shortest_edge")):
        size = getattr(processor, attr, None)
        value = getattr(size, field, None) if size is not None else None
        if value is None and isinstance(size, dict):
            value = size.get(field)
        if isinstance(value, int) and value > 0:
            return value
    return _DEFAULT_SIDE
