// Written by pixelbuild; edits are overwritten on the next build.
//! Asset paths, atlas indices and animation frame ranges of the pixelbuild assets.
#![allow(dead_code)]

/// How an animation plays its frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Playback {
    Loop,
    Once,
    PingPong,
}

/// An animation: layout indices `first..=last`, with each frame's duration in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FrameRange {
    pub first: usize,
    pub last: usize,
    pub playback: Playback,
    pub frame_ms: &'static [u32],
}

impl FrameRange {
    /// Number of frames.
    pub const fn len(&self) -> usize {
        self.last - self.first + 1
    }

    /// The layout indices, first to last.
    pub fn indices(&self) -> core::ops::RangeInclusive<usize> {
        self.first..=self.last
    }
}

/// `hero-walk`
pub mod hero_walk {
    pub const IMAGE: &str = "animations/hero-walk.png";
    pub const JSON: &str = "animations/hero-walk.json";
    pub const LAYOUT: &str = "animations/hero-walk.assets.ron";
    pub const TILE_SIZE: (u32, u32) = (32, 32);
    pub const COLUMNS: u32 = 3;
    pub const ROWS: u32 = 2;
    pub const PADDING: u32 = 0;
    pub const OFFSET: u32 = 0;
    pub const LEN: usize = 6;
    pub const NAMES: [&str; 6] = ["hero-walk/0", "hero-walk/1", "hero-walk/2", "hero-walk/3", "hero-walk/4", "hero-walk/5"];
    pub mod index {
        pub const HERO_WALK_0: usize = 0;
        pub const HERO_WALK_1: usize = 1;
        pub const HERO_WALK_2: usize = 2;
        pub const HERO_WALK_3: usize = 3;
        pub const HERO_WALK_4: usize = 4;
        pub const HERO_WALK_5: usize = 5;
    }
    pub mod anim {
        use super::super::{FrameRange, Playback};
        pub const HERO_WALK: FrameRange = FrameRange { first: 0, last: 5, playback: Playback::Loop, frame_ms: &[100, 100, 100, 100, 100, 100] };
    }
}

/// `slime-bounce`
pub mod slime_bounce {
    pub const IMAGE: &str = "animations/slime-bounce.png";
    pub const JSON: &str = "animations/slime-bounce.json";
    pub const LAYOUT: &str = "animations/slime-bounce.assets.ron";
    pub const TILE_SIZE: (u32, u32) = (24, 24);
    pub const COLUMNS: u32 = 2;
    pub const ROWS: u32 = 2;
    pub const PADDING: u32 = 0;
    pub const OFFSET: u32 = 0;
    pub const LEN: usize = 4;
    pub const NAMES: [&str; 4] = ["slime-bounce/0", "slime-bounce/1", "slime-bounce/2", "slime-bounce/3"];
    pub mod index {
        pub const SLIME_BOUNCE_0: usize = 0;
        pub const SLIME_BOUNCE_1: usize = 1;
        pub const SLIME_BOUNCE_2: usize = 2;
        pub const SLIME_BOUNCE_3: usize = 3;
    }
    pub mod anim {
        use super::super::{FrameRange, Playback};
        pub const SLIME_BOUNCE: FrameRange = FrameRange { first: 0, last: 3, playback: Playback::PingPong, frame_ms: &[167, 167, 167, 167] };
    }
}

/// `items`
pub mod items {
    pub const IMAGE: &str = "atlases/items.png";
    pub const JSON: &str = "atlases/items.json";
    pub const LAYOUT: &str = "atlases/items.atlas.ron";
    pub const LEN: usize = 6;
    pub const NAMES: [&str; 6] = ["potion", "coin", "slime-bounce/0", "slime-bounce/1", "slime-bounce/2", "slime-bounce/3"];
    pub mod index {
        pub const POTION: usize = 0;
        pub const COIN: usize = 1;
        pub const SLIME_BOUNCE_0: usize = 2;
        pub const SLIME_BOUNCE_1: usize = 3;
        pub const SLIME_BOUNCE_2: usize = 4;
        pub const SLIME_BOUNCE_3: usize = 5;
    }
    pub mod anim {
        use super::super::{FrameRange, Playback};
        pub const SLIME_BOUNCE: FrameRange = FrameRange { first: 2, last: 5, playback: Playback::PingPong, frame_ms: &[167, 167, 167, 167] };
    }
}

/// `meadow`
pub mod meadow {
    pub const IMAGE: &str = "tiles/meadow.png";
    pub const JSON: &str = "tiles/meadow.json";
    pub const LAYOUT: &str = "tiles/meadow.assets.ron";
    pub const TABLE: &str = "tiles/meadow.autotile.json";
    pub const TSX: &str = "tiles/meadow.tsx";
    pub const TILE_SIZE: (u32, u32) = (16, 16);
    pub const COLUMNS: u32 = 5;
    pub const ROWS: u32 = 4;
    pub const PADDING: u32 = 0;
    pub const OFFSET: u32 = 0;
    pub const LEN: usize = 18;
    pub const NAMES: [&str; 18] = ["meadow/0", "meadow/1", "meadow/2", "meadow/3", "meadow/4", "meadow/5", "meadow/6", "meadow/7", "meadow/8", "meadow/9", "meadow/10", "meadow/11", "meadow/12", "meadow/13", "meadow/14", "meadow/15", "meadow/grass-1", "meadow/dirt-1"];
    pub mod index {
        pub const MEADOW_0: usize = 0;
        pub const MEADOW_1: usize = 1;
        pub const MEADOW_2: usize = 2;
        pub const MEADOW_3: usize = 3;
        pub const MEADOW_4: usize = 4;
        pub const MEADOW_5: usize = 5;
        pub const MEADOW_6: usize = 6;
        pub const MEADOW_7: usize = 7;
        pub const MEADOW_8: usize = 8;
        pub const MEADOW_9: usize = 9;
        pub const MEADOW_10: usize = 10;
        pub const MEADOW_11: usize = 11;
        pub const MEADOW_12: usize = 12;
        pub const MEADOW_13: usize = 13;
        pub const MEADOW_14: usize = 14;
        pub const MEADOW_15: usize = 15;
        pub const MEADOW_GRASS_1: usize = 16;
        pub const MEADOW_DIRT_1: usize = 17;
    }
    /// Autotile (wang16): the mask of a cell's corners that are
    /// `TERRAINS[1]`, one `bit` per place, -> its tile in this sheet.
    pub mod bit {
        pub const NE: u8 = 1;
        pub const SE: u8 = 2;
        pub const SW: u8 = 4;
        pub const NW: u8 = 8;
    }
    pub const TERRAINS: [&str; 2] = ["grass", "dirt"];
    /// Each terrain's full tiles: the one the transitions match, then its alternatives.
    pub const FULL: [&[usize]; 2] = [&[0, 16], &[15, 17]];
    pub const TILES: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    /// The tile of a mask of `bit`s.
    pub const fn tile_for(mask: u8) -> usize { TILES[(mask & 0x0f) as usize] as usize }
}

/// `knight`
pub mod knight {
    pub const IMAGE: &str = "characters/knight.png";
    pub const JSON: &str = "characters/knight.json";
    pub const LAYOUT: &str = "characters/knight.assets.ron";
    pub const TILE_SIZE: (u32, u32) = (32, 32);
    pub const COLUMNS: u32 = 6;
    pub const ROWS: u32 = 8;
    pub const PADDING: u32 = 0;
    pub const OFFSET: u32 = 0;
    pub const LEN: usize = 48;
    pub const NAMES: [&str; 48] = ["knight/idle_s/0", "knight/idle_s/1", "knight/idle_s/2", "knight/idle_s/3", "knight/idle_s/blank0", "knight/idle_s/blank1", "knight/walk_s/0", "knight/walk_s/1", "knight/walk_s/2", "knight/walk_s/3", "knight/walk_s/4", "knight/walk_s/5", "knight/idle_w/0", "knight/idle_w/1", "knight/idle_w/2", "knight/idle_w/3", "knight/idle_w/blank0", "knight/idle_w/blank1", "knight/walk_w/0", "knight/walk_w/1", "knight/walk_w/2", "knight/walk_w/3", "knight/walk_w/4", "knight/walk_w/5", "knight/idle_n/0", "knight/idle_n/1", "knight/idle_n/2", "knight/idle_n/3", "knight/idle_n/blank0", "knight/idle_n/blank1", "knight/walk_n/0", "knight/walk_n/1", "knight/walk_n/2", "knight/walk_n/3", "knight/walk_n/4", "knight/walk_n/5", "knight/idle_e/0", "knight/idle_e/1", "knight/idle_e/2", "knight/idle_e/3", "knight/idle_e/blank0", "knight/idle_e/blank1", "knight/walk_e/0", "knight/walk_e/1", "knight/walk_e/2", "knight/walk_e/3", "knight/walk_e/4", "knight/walk_e/5"];
    pub mod index {
        pub const KNIGHT_IDLE_S_0: usize = 0;
        pub const KNIGHT_IDLE_S_1: usize = 1;
        pub const KNIGHT_IDLE_S_2: usize = 2;
        pub const KNIGHT_IDLE_S_3: usize = 3;
        pub const KNIGHT_IDLE_S_BLANK0: usize = 4;
        pub const KNIGHT_IDLE_S_BLANK1: usize = 5;
        pub const KNIGHT_WALK_S_0: usize = 6;
        pub const KNIGHT_WALK_S_1: usize = 7;
        pub const KNIGHT_WALK_S_2: usize = 8;
        pub const KNIGHT_WALK_S_3: usize = 9;
        pub const KNIGHT_WALK_S_4: usize = 10;
        pub const KNIGHT_WALK_S_5: usize = 11;
        pub const KNIGHT_IDLE_W_0: usize = 12;
        pub const KNIGHT_IDLE_W_1: usize = 13;
        pub const KNIGHT_IDLE_W_2: usize = 14;
        pub const KNIGHT_IDLE_W_3: usize = 15;
        pub const KNIGHT_IDLE_W_BLANK0: usize = 16;
        pub const KNIGHT_IDLE_W_BLANK1: usize = 17;
        pub const KNIGHT_WALK_W_0: usize = 18;
        pub const KNIGHT_WALK_W_1: usize = 19;
        pub const KNIGHT_WALK_W_2: usize = 20;
        pub const KNIGHT_WALK_W_3: usize = 21;
        pub const KNIGHT_WALK_W_4: usize = 22;
        pub const KNIGHT_WALK_W_5: usize = 23;
        pub const KNIGHT_IDLE_N_0: usize = 24;
        pub const KNIGHT_IDLE_N_1: usize = 25;
        pub const KNIGHT_IDLE_N_2: usize = 26;
        pub const KNIGHT_IDLE_N_3: usize = 27;
        pub const KNIGHT_IDLE_N_BLANK0: usize = 28;
        pub const KNIGHT_IDLE_N_BLANK1: usize = 29;
        pub const KNIGHT_WALK_N_0: usize = 30;
        pub const KNIGHT_WALK_N_1: usize = 31;
        pub const KNIGHT_WALK_N_2: usize = 32;
        pub const KNIGHT_WALK_N_3: usize = 33;
        pub const KNIGHT_WALK_N_4: usize = 34;
        pub const KNIGHT_WALK_N_5: usize = 35;
        pub const KNIGHT_IDLE_E_0: usize = 36;
        pub const KNIGHT_IDLE_E_1: usize = 37;
        pub const KNIGHT_IDLE_E_2: usize = 38;
        pub const KNIGHT_IDLE_E_3: usize = 39;
        pub const KNIGHT_IDLE_E_BLANK0: usize = 40;
        pub const KNIGHT_IDLE_E_BLANK1: usize = 41;
        pub const KNIGHT_WALK_E_0: usize = 42;
        pub const KNIGHT_WALK_E_1: usize = 43;
        pub const KNIGHT_WALK_E_2: usize = 44;
        pub const KNIGHT_WALK_E_3: usize = 45;
        pub const KNIGHT_WALK_E_4: usize = 46;
        pub const KNIGHT_WALK_E_5: usize = 47;
    }
    pub mod anim {
        use super::super::{FrameRange, Playback};
        pub const IDLE_S: FrameRange = FrameRange { first: 0, last: 3, playback: Playback::Loop, frame_ms: &[167, 167, 167, 167] };
        pub const WALK_S: FrameRange = FrameRange { first: 6, last: 11, playback: Playback::Loop, frame_ms: &[100, 100, 100, 100, 100, 100] };
        pub const IDLE_W: FrameRange = FrameRange { first: 12, last: 15, playback: Playback::Loop, frame_ms: &[167, 167, 167, 167] };
        pub const WALK_W: FrameRange = FrameRange { first: 18, last: 23, playback: Playback::Loop, frame_ms: &[100, 100, 100, 100, 100, 100] };
        pub const IDLE_N: FrameRange = FrameRange { first: 24, last: 27, playback: Playback::Loop, frame_ms: &[167, 167, 167, 167] };
        pub const WALK_N: FrameRange = FrameRange { first: 30, last: 35, playback: Playback::Loop, frame_ms: &[100, 100, 100, 100, 100, 100] };
        pub const IDLE_E: FrameRange = FrameRange { first: 36, last: 39, playback: Playback::Loop, frame_ms: &[167, 167, 167, 167] };
        pub const WALK_E: FrameRange = FrameRange { first: 42, last: 47, playback: Playback::Loop, frame_ms: &[100, 100, 100, 100, 100, 100] };
    }
    /// The directions it is drawn in, in the sheet's row order.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum Direction { S, W, N, E }
    /// `idle` facing `d`.
    pub const fn idle(d: Direction) -> super::FrameRange { match d { Direction::S => anim::IDLE_S, Direction::W => anim::IDLE_W, Direction::N => anim::IDLE_N, Direction::E => anim::IDLE_E } }
    /// `walk` facing `d`.
    pub const fn walk(d: Direction) -> super::FrameRange { match d { Direction::S => anim::WALK_S, Direction::W => anim::WALK_W, Direction::N => anim::WALK_N, Direction::E => anim::WALK_E } }
}

/// `coin`
pub mod coin {
    pub const IMAGE: &str = "sprites/coin.png";
    pub const LEN: usize = 0;
}

/// `hero`
pub mod hero {
    pub const IMAGE: &str = "sprites/hero.png";
    pub const LEN: usize = 0;
}

/// `potion`
pub mod potion {
    pub const IMAGE: &str = "sprites/potion.png";
    pub const LEN: usize = 0;
}

/// `slime`
pub mod slime {
    pub const IMAGE: &str = "sprites/slime.png";
    pub const LEN: usize = 0;
}

/// `grass`
pub mod grass {
    pub const IMAGE: &str = "tiles/grass.png";
    pub const JSON: &str = "tiles/grass.json";
    pub const LAYOUT: &str = "tiles/grass.assets.ron";
    pub const TILE_SIZE: (u32, u32) = (16, 16);
    pub const COLUMNS: u32 = 2;
    pub const ROWS: u32 = 2;
    pub const PADDING: u32 = 0;
    pub const OFFSET: u32 = 0;
    pub const LEN: usize = 4;
    pub const NAMES: [&str; 4] = ["grass/0", "grass/1", "grass/2", "grass/3"];
    pub mod index {
        pub const GRASS_0: usize = 0;
        pub const GRASS_1: usize = 1;
        pub const GRASS_2: usize = 2;
        pub const GRASS_3: usize = 3;
    }
}

/// `stone`
pub mod stone {
    pub const IMAGE: &str = "tiles/stone.png";
    pub const JSON: &str = "tiles/stone.json";
    pub const LAYOUT: &str = "tiles/stone.assets.ron";
    pub const TILE_SIZE: (u32, u32) = (16, 16);
    pub const COLUMNS: u32 = 2;
    pub const ROWS: u32 = 2;
    pub const PADDING: u32 = 0;
    pub const OFFSET: u32 = 0;
    pub const LEN: usize = 4;
    pub const NAMES: [&str; 4] = ["stone/0", "stone/1", "stone/2", "stone/3"];
    pub mod index {
        pub const STONE_0: usize = 0;
        pub const STONE_1: usize = 1;
        pub const STONE_2: usize = 2;
        pub const STONE_3: usize = 3;
    }
}
