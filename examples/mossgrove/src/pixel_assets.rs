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
