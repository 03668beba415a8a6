"""The built-in palettes as plain data (no numpy), so a no-op build can name them cheaply."""

from __future__ import annotations


def _split(s: str) -> tuple[str, ...]:
    return tuple("#" + h for h in s.split())


# Colour values were checked against public copies of each palette (Lospec's palette list, and the
# palette files Aseprite ships in data/extensions/); each entry names its source.
BUILTIN_PALETTES: dict[str, tuple[str, ...]] = {
    # PICO-8 (Lexaloffle), 16 colours; lospec.com/palette-list/pico-8, Aseprite pico-8.gpl.
    "pico-8": _split(
        "000000 1d2b53 7e2553 008751 ab5236 5f574f c2c3c7 fff1e8 "
        "ff004d ffa300 ffec27 00e436 29adff 83769c ff77a8 ffccaa"
    ),
    # DawnBringer 16 (Richard Fhager); lospec.com/palette-list/dawnbringer-16, Aseprite db16.gpl.
    "db16": _split(
        "140c1c 442434 30346d 4e4a4e 854c30 346524 d04648 757161 "
        "597dce d27d2c 8595a1 6daa2c d2aa99 6dc2ca dad45e deeed6"
    ),
    # DawnBringer 32; lospec.com/palette-list/dawnbringer-32, Aseprite db32.gpl.
    "db32": _split(
        "000000 222034 45283c 663931 8f563b df7126 d9a066 eec39a "
        "fbf236 99e550 6abe30 37946e 4b692f 524b24 323c39 3f3f74 "
        "306082 5b6ee1 639bff 5fcde4 cbdbfc ffffff 9badb7 847e87 "
        "696a6a 595652 76428a ac3232 d95763 d77bba 8f974a 8a6f30"
    ),
    # ENDESGA 32; lospec.com/palette-list/endesga-32.
    "endesga-32": _split(
        "be4a2f d77643 ead4aa e4a672 b86f50 733e39 3e2731 a22633 "
        "e43b44 f77622 feae34 fee761 63c74d 3e8948 265c42 193c3e "
        "124e89 0099db 2ce8f5 ffffff c0cbdc 8b9bb4 5a6988 3a4466 "
        "262b44 181425 ff0044 68386c b55088 f6757a e8b796 c28569"
    ),
    # Sweetie 16 (GrafxKid; TIC-80's default); lospec.com/palette-list/sweetie-16.
    "sweetie-16": _split(
        "1a1c2c 5d275d b13e53 ef7d57 ffcd75 a7f070 38b764 257179 "
        "29366f 3b5dc9 41a6f6 73eff7 f4f4f4 94b0c2 566c86 333c57"
    ),
    # The four greens of the original Game Boy (DMG) screen, darkest first; Aseprite gameboy.gpl.
    "gameboy": _split("0f380f 306230 8bac0f 9bbc0f"),
    # NES: Lospec's "Nintendo Entertainment System" table (55 colours, the usual FCEUX-like RGB
    # values, black included once, duplicate blacks of the 64-entry hardware table removed);
    # lospec.com/palette-list/nintendo-entertainment-system.
    "nes": _split(
        "000000 fcfcfc f8f8f8 bcbcbc 7c7c7c a4e4fc 3cbcfc 0078f8 0000fc b8b8f8 6888fc "
        "0058f8 0000bc d8b8f8 9878f8 6844fc 4428bc f8b8f8 f878f8 d800cc 940084 f8a4c0 "
        "f85898 e40058 a80020 f0d0b0 f87858 f83800 a81000 fce0a8 fca044 e45c10 881400 "
        "f8d878 f8b800 ac7c00 503000 d8f878 b8f818 00b800 007800 b8f8b8 58d854 00a800 "
        "006800 b8f8d8 58f898 00a844 005800 00fcfc 00e8d8 008888 004058 f8d8f8 787878"
    ),
    # AAP-64 (Adigun A. Polack); lospec.com/palette-list/aap-64, Aseprite aap-64.gpl.
    "aap-64": _split(
        "060608 141013 3b1725 73172d b4202a df3e23 fa6a0a f9a31b "
        "ffd541 fffc40 d6f264 9cdb43 59c135 14a02e 1a7a3e 24523b "
        "122020 143464 285cc4 249fde 20d6c7 a6fcdb ffffff fef3c0 "
        "fad6b8 f5a097 e86a73 bc4a9b 793a80 403353 242234 221c1a "
        "322b28 71413b bb7547 dba463 f4d29c dae0ea b3b9d1 8b93af "
        "6d758d 4a5462 333941 422433 5b3138 8e5252 ba756a e9b5a3 "
        "e3e6ff b9bffb 849be4 588dbe 477d85 23674e 328464 5daf8d "
        "92dcba cdf7e2 e4d2aa c7b08b a08662 796755 5a4e44 423934"
    ),
    # Resurrect 64 (Kerrie Lake); lospec.com/palette-list/resurrect-64.
    "resurrect-64": _split(
        "2e222f 3e3546 625565 966c6c ab947a 694f62 7f708a 9babb2 "
        "c7dcd0 ffffff 6e2727 b33831 ea4f36 f57d4a ae2334 e83b3b "
        "fb6b1d f79617 f9c22b 7a3045 9e4539 cd683d e6904e fbb954 "
        "4c3e24 676633 a2a947 d5e04b fbff86 165a4c 239063 1ebc73 "
        "91db69 cddf6c 313638 374e4a 547e64 92a984 b2ba90 0b5e65 "
        "0b8a8f 0eaf9b 30e1b9 8ff8e2 323353 484a77 4d65b4 4d9be6 "
        "8fd3ff 45293f 6b3e75 905ea9 a884f3 eaaded 753c54 a24b6f "
        "cf657f ed8099 831c5d c32454 f04f78 f68181 fca790 fdcbb0"
    ),
}
