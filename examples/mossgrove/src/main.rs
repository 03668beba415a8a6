//! Mossgrove: a tiny Bevy (0.15) scene built from pixelbuild's outputs.
//!
//! A meadow floor autotiled from two terrains (grass and a dirt path), a sprite, an animation
//! from a grid sheet, a knight that walks in four directions with the arrow keys (a character
//! sheet), and sprites and an animation from a packed atlas. Every path, index and frame range comes from the generated
//! `pixel_assets` module, so renaming an entry in pixels.yaml is a compile error, not a bug.
//!
//! Run `pixelbuild build` (or `pixelbuild watch` beside `cargo run` for live edits) first.

use std::time::Duration;

use bevy::prelude::*;

mod pixel_assets;
use pixel_assets::knight::{self, Direction};
use pixel_assets::{hero, hero_walk, items, meadow, FrameRange, Playback};

fn main() {
    App::new()
        // Pixel art must be sampled nearest, or it blurs when scaled.
        .add_plugins(DefaultPlugins.set(ImagePlugin::default_nearest()))
        .add_systems(Startup, setup)
        .add_systems(Update, (walk, animate).chain())
        .run();
}

/// Plays a `FrameRange` on the texture atlas of a sprite. This example's own component, not a
/// Bevy type: Bevy has no sprite-sheet player, and `FrameRange` is plain data for one.
#[derive(Component)]
struct Animation {
    range: FrameRange,
    frame: usize,
    backwards: bool,
    timer: Timer,
}

impl Animation {
    fn new(range: FrameRange) -> Self {
        let ms = range.frame_ms.first().copied().unwrap_or(100);
        let timer = Timer::new(Duration::from_millis(ms.into()), TimerMode::Repeating);
        Self { range, frame: 0, backwards: false, timer }
    }

    /// Moves to the next frame as the playback mode says; returns the layout index to show.
    fn advance(&mut self) -> usize {
        let last = self.range.len() - 1;
        self.frame = match self.range.playback {
            Playback::Loop => (self.frame + 1) % (last + 1),
            Playback::Once => (self.frame + 1).min(last),
            Playback::PingPong if last == 0 => 0,
            Playback::PingPong => {
                if self.frame == last {
                    self.backwards = true;
                } else if self.frame == 0 {
                    self.backwards = false;
                }
                if self.backwards { self.frame - 1 } else { self.frame + 1 }
            }
        };
        let ms = self.range.frame_ms.get(self.frame).copied().unwrap_or(100);
        self.timer.set_duration(Duration::from_millis(ms.into()));
        self.range.first + self.frame
    }
}

/// The knight and which way it faces (the generated module's `Direction`: one per sheet row).
#[derive(Component)]
struct Knight {
    facing: Direction,
}

/// A grid layout exactly as the sheet's `.assets.ron` describes it.
fn grid(tile: (u32, u32), columns: u32, rows: u32, padding: u32) -> TextureAtlasLayout {
    let padding = (padding > 0).then_some(UVec2::splat(padding));
    TextureAtlasLayout::from_grid(UVec2::from(tile), columns, rows, padding, None)
}

fn setup(
    mut commands: Commands,
    assets: Res<AssetServer>,
    mut layouts: ResMut<Assets<TextureAtlasLayout>>,
) {
    // Bevy 0.15. From 0.16 `OrthographicProjection` is no longer a component: spawn
    // `Projection::from(OrthographicProjection { scale: 0.25, ..OrthographicProjection::default_2d() })`.
    commands.spawn((
        Camera2d,
        OrthographicProjection { scale: 0.25, ..OrthographicProjection::default_2d() },
    ));

    // A meadow floor, autotiled: terrain lives on the corners of the cells (a dual grid), here a
    // winding dirt path and a pond of dirt on grass, and each cell shows the tile of its dirt
    // corners, `meadow::tile_for(mask)`. Full cells pick an alternative by a fixed hash.
    let path = |x: i32, y: i32| (x + y.div_euclid(2)).rem_euclid(14) < 3;
    let dirt = |x: i32, y: i32| path(x, y) || (x - 5).pow(2) + (y + 3).pow(2) < 7;
    let floor = layouts.add(grid(meadow::TILE_SIZE, meadow::COLUMNS, meadow::ROWS, meadow::PADDING));
    let image: Handle<Image> = assets.load(meadow::IMAGE);
    let (w, h) = meadow::TILE_SIZE;
    for y in -6..6_i32 {
        for x in -10..10_i32 {
            // The corners of cell (x, y), with y up as in Bevy.
            let corners = [
                (x + 1, y + 1, meadow::bit::NE),
                (x + 1, y, meadow::bit::SE),
                (x, y, meadow::bit::SW),
                (x, y + 1, meadow::bit::NW),
            ];
            let mask = corners.iter().filter(|c| dirt(c.0, c.1)).fold(0, |mask, c| mask | c.2);
            let index = match mask {
                0 | 0x0f => {
                    let full = meadow::FULL[usize::from(mask == 0x0f)];
                    full[(x * 7 + y * 13).rem_euclid(full.len() as i32) as usize]
                }
                _ => meadow::tile_for(mask),
            };
            commands.spawn((
                Sprite::from_atlas_image(image.clone(), TextureAtlas { layout: floor.clone(), index }),
                Transform::from_xyz((x * w as i32) as f32, (y * h as i32) as f32, 0.0),
            ));
        }
    }

    // A single sprite.
    commands.spawn((Sprite::from_image(assets.load(hero::IMAGE)), Transform::from_xyz(-48.0, 0.0, 1.0)));

    // An animation from a grid sheet.
    let walk = layouts.add(grid(
        hero_walk::TILE_SIZE,
        hero_walk::COLUMNS,
        hero_walk::ROWS,
        hero_walk::PADDING,
    ));
    commands.spawn((
        Sprite::from_atlas_image(assets.load(hero_walk::IMAGE), TextureAtlas { layout: walk, index: 0 }),
        Transform::from_xyz(0.0, 0.0, 1.0),
        Animation::new(hero_walk::anim::HERO_WALK),
    ));

    // A character: one sheet, a row per direction and animation; the arrow keys walk it.
    let sheet = layouts.add(grid(knight::TILE_SIZE, knight::COLUMNS, knight::ROWS, knight::PADDING));
    let idle = knight::anim::IDLE_S;
    commands.spawn((
        Sprite::from_atlas_image(assets.load(knight::IMAGE), TextureAtlas { layout: sheet, index: idle.first }),
        Transform::from_xyz(-16.0, -32.0, 2.0),
        Animation::new(idle),
        Knight { facing: Direction::S },
    ));

    // A packed atlas: its layout is a serialized TextureAtlasLayout (Bevy's `serialize` feature).
    let text = std::fs::read_to_string(format!("assets/{}", items::LAYOUT))
        .expect("the atlas layout is missing: run `pixelbuild build`");
    let layout: TextureAtlasLayout = ron::de::from_str(&text).expect("a TextureAtlasLayout");
    let layout = layouts.add(layout);
    let image: Handle<Image> = assets.load(items::IMAGE);
    for (i, index) in [items::index::POTION, items::index::COIN].into_iter().enumerate() {
        commands.spawn((
            Sprite::from_atlas_image(image.clone(), TextureAtlas { layout: layout.clone(), index }),
            Transform::from_xyz(40.0 + 20.0 * i as f32, 24.0, 1.0),
        ));
    }
    let bounce = items::anim::SLIME_BOUNCE;
    commands.spawn((
        Sprite::from_atlas_image(image, TextureAtlas { layout, index: bounce.first }),
        Transform::from_xyz(48.0, -8.0, 1.0),
        Animation::new(bounce),
    ));
}

/// Arrow keys move the knight and pick the row of its sheet: walking that way, or idle.
fn walk(
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time>,
    mut query: Query<(&mut Knight, &mut Animation, &mut Sprite, &mut Transform)>,
) {
    const SPEED: f32 = 40.0; // pixels per second
    for (mut player, mut animation, mut sprite, mut transform) in &mut query {
        let mut step = Vec2::ZERO;
        for (key, facing, dir) in [
            (KeyCode::ArrowDown, Direction::S, Vec2::NEG_Y),
            (KeyCode::ArrowLeft, Direction::W, Vec2::NEG_X),
            (KeyCode::ArrowUp, Direction::N, Vec2::Y),
            (KeyCode::ArrowRight, Direction::E, Vec2::X),
        ] {
            if keys.pressed(key) {
                step += dir;
                player.facing = facing;
            }
        }
        let moving = step != Vec2::ZERO;
        transform.translation += (step.normalize_or_zero() * SPEED * time.delta_secs()).extend(0.0);
        // The sheet's frame range for that direction: `walk_w`, `idle_s`, ...
        let range = if moving { knight::walk(player.facing) } else { knight::idle(player.facing) };
        if range.first != animation.range.first {
            *animation = Animation::new(range);
            if let Some(atlas) = sprite.texture_atlas.as_mut() {
                atlas.index = range.first;
            }
        }
    }
}

fn animate(time: Res<Time>, mut query: Query<(&mut Animation, &mut Sprite)>) {
    for (mut animation, mut sprite) in &mut query {
        if animation.timer.tick(time.delta()).just_finished() {
            let index = animation.advance();
            if let Some(atlas) = sprite.texture_atlas.as_mut() {
                atlas.index = index;
            }
        }
    }
}
