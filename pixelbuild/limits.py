"""Every size limit on what pixelbuild reads, in one place.

A manifest or an input file is the user's (or someone else's) text: whatever it says, reading it
must end, and every buffer built from it must fit a stated budget. The schema's `le=` bounds, the
YAML reader, the input-file checks and the image decoder read their limits here, and the messages
quote them. They are generous for pixel art (a 1024 px sprite is huge); raise one by editing a
line here. Standard library only.
"""

from __future__ import annotations

MIB = 1 << 20

# The manifest file and the YAML in it.
MANIFEST_BYTES = 16 * MIB  # a 10,000-entry manifest is about 1 MiB
YAML_ALIAS_VALUES = 100_000  # values copied by aliases, nested ones multiplied ("billion laughs")
YAML_DEPTH = 100  # nesting of lists and mappings

# Paths the manifest names (`image:`, palette `file:`, ...).
PATH_CHARS = 1024
PATH_PART_CHARS = 255  # one folder or file name (the usual file-system limit)

# Input files: `image:` sources and palette files, read from inside the project.
IMAGE_FILE_BYTES = 256 * MIB
IMAGE_PIXELS = 4096 * 4096  # an `image:` source, checked from its header before decoding
SWATCH_PIXELS = 1024 * 1024  # a PNG palette swatch
PALETTE_TEXT_BYTES = 1 * MIB  # .hex, .gpl, .pal

# What an entry may ask to be painted and written (each RGBA pixel is 4 bytes).
SPRITE_SIDE = 1024  # `size`, a side
CANVAS_SIDE = 4096  # `canvas`, a side
OUTPUT_SIDE = 4096  # a written image's side: size x upscale
GENERATED_PIXELS = 64 * MIB  # an entry's canvases together: images x canvas (256 MiB of RGBA)
SHEET_PIXELS = 4096 * 4096  # an entry's written image: frames (or tiles) x frame, upscaled
FRAMES = 256  # an animation's frames, a tileset's variants
PALETTE_COLORS = 256
DURATION_MS = 60_000  # one frame of an animation
ATLAS_SIDE = 16384
COMPARE_CELLS = 256  # the cells of one `pixelbuild compare`


def megapixels(pixels: int) -> str:
    """'16.8 Mpx' for a message."""
    return f"{pixels / 1e6:.1f} Mpx"
