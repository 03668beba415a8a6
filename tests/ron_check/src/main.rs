//! ron-check: parse RON files with the `ron` crate and print each as one line of JSON.
//!
//! Usage: `pixelbuild-ron-check [--type KIND] FILE...`
//!
//! KIND is one of:
//! * `value` (default): any RON, through `ron::Value`. Note that `ron::Value` drops struct and
//!   enum-variant names (`Image(path: "a")` and `(path: "a")` read the same; `Nearest` reads as
//!   unit), so the typed kinds below exist to check those names too.
//! * `dynamic-assets`: a bevy_asset_loader `*.assets.ron` (`StandardDynamicAssetCollection`).
//! * `atlas-layout`: a serde `TextureAtlasLayout` (Bevy 0.15+ `serialize` feature).
//! * `image-meta`: an image `.meta` file for Bevy's `ImageLoader` (Bevy 0.15+).
//!
//! The typed kinds are our own mirrors of the upstream types (same field names, same serde shape,
//! unknown fields rejected), re-serialized to JSON with serde's externally tagged enums, so a
//! variant shows as `{"Image": {...}}` and a unit variant as `"Nearest"`.
//!
//! On a parse error the program prints `FILE:LINE:COL: MESSAGE` to stderr and exits with 1.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::{Deserialize, Deserializer, Serialize};

// --- bevy_asset_loader: StandardDynamicAssetCollection ------------------------------------------

/// bevy_asset_loader reads `padding_x: 1` (not `Some(1)`) into an `Option<u32>`.
fn bare_some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Serialize, Deserialize, Default)]
enum SamplerType {
    #[default]
    Nearest,
    Linear,
}

#[derive(Serialize, Deserialize, Default)]
enum AddressModeType {
    #[default]
    ClampToEdge,
    Repeat,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
enum DynamicAsset {
    File {
        path: String,
    },
    Folder {
        path: String,
    },
    Files {
        paths: Vec<String>,
    },
    Image {
        path: String,
        #[serde(default)]
        sampler: SamplerType,
        #[serde(default)]
        wrap: AddressModeType,
        #[serde(default, deserialize_with = "bare_some")]
        array_texture_layers: Option<u32>,
    },
    StandardMaterial {
        path: String,
    },
    TextureAtlasLayout {
        tile_size_x: u32,
        tile_size_y: u32,
        columns: u32,
        rows: u32,
        #[serde(default, deserialize_with = "bare_some")]
        padding_x: Option<u32>,
        #[serde(default, deserialize_with = "bare_some")]
        padding_y: Option<u32>,
        #[serde(default, deserialize_with = "bare_some")]
        offset_x: Option<u32>,
        #[serde(default, deserialize_with = "bare_some")]
        offset_y: Option<u32>,
    },
}

#[derive(Serialize, Deserialize)]
struct DynamicAssetCollection(BTreeMap<String, DynamicAsset>);

// --- bevy_image: TextureAtlasLayout (glam UVec2 is a 2-tuple struct) ----------------------------

#[derive(Serialize, Deserialize)]
struct UVec2(u32, u32);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct URect {
    min: UVec2,
    max: UVec2,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextureAtlasLayout {
    size: UVec2,
    textures: Vec<URect>,
}

// --- bevy_asset: AssetMeta with bevy_image's ImageLoaderSettings --------------------------------

#[derive(Serialize, Deserialize)]
enum ImageFormatSetting {
    FromExtension,
    Format(String),
    Guess,
}

#[derive(Serialize, Deserialize)]
enum ImageAddressMode {
    ClampToEdge,
    Repeat,
    MirrorRepeat,
    ClampToBorder,
}

#[derive(Serialize, Deserialize)]
enum ImageFilterMode {
    Nearest,
    Linear,
}

#[derive(Serialize, Deserialize)]
enum ImageCompareFunction {
    Never,
    Less,
    Equal,
    LessEqual,
    Greater,
    NotEqual,
    GreaterEqual,
    Always,
}

#[derive(Serialize, Deserialize)]
enum ImageSamplerBorderColor {
    TransparentBlack,
    OpaqueBlack,
    OpaqueWhite,
    Zero,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageSamplerDescriptor {
    label: Option<String>,
    address_mode_u: ImageAddressMode,
    address_mode_v: ImageAddressMode,
    address_mode_w: ImageAddressMode,
    mag_filter: ImageFilterMode,
    min_filter: ImageFilterMode,
    mipmap_filter: ImageFilterMode,
    lod_min_clamp: f32,
    lod_max_clamp: f32,
    compare: Option<ImageCompareFunction>,
    anisotropy_clamp: u16,
    border_color: Option<ImageSamplerBorderColor>,
}

#[derive(Serialize, Deserialize)]
enum ImageSampler {
    Default,
    Descriptor(ImageSamplerDescriptor),
}

/// bitflags' serde form: the flag names joined by " | ".
#[derive(Serialize, Deserialize)]
struct RenderAssetUsages(String);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageLoaderSettings {
    format: ImageFormatSetting,
    is_srgb: bool,
    sampler: ImageSampler,
    asset_usage: RenderAssetUsages,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
enum AssetAction {
    Load {
        loader: String,
        settings: ImageLoaderSettings,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageMeta {
    meta_format_version: String,
    asset: AssetAction,
}

// --- ron::Value to JSON --------------------------------------------------------------------------

fn value_to_json(value: &ron::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        ron::Value::Bool(b) => J::Bool(*b),
        ron::Value::Char(c) => J::String(c.to_string()),
        ron::Value::String(s) => J::String(s.clone()),
        ron::Value::Unit => J::Null,
        ron::Value::Option(None) => J::Null,
        ron::Value::Option(Some(inner)) => value_to_json(inner),
        ron::Value::Number(ron::Number::Integer(i)) => J::from(*i),
        ron::Value::Number(ron::Number::Float(f)) => J::from(f.get()),
        ron::Value::Seq(items) => J::Array(items.iter().map(value_to_json).collect()),
        ron::Value::Map(map) => {
            let mut object = serde_json::Map::new();
            for (key, item) in map.iter() {
                let key = match key {
                    ron::Value::String(s) => s.clone(),
                    other => ron::to_string(other).unwrap_or_else(|_| format!("{other:?}")),
                };
                object.insert(key, value_to_json(item));
            }
            J::Object(object)
        }
    }
}

// --- driver --------------------------------------------------------------------------------------

fn parse_as<T: for<'de> Deserialize<'de> + Serialize>(
    text: &str,
) -> Result<serde_json::Value, ron::Error> {
    let parsed: T = ron::from_str(text)?;
    Ok(serde_json::to_value(parsed).expect("JSON-serializable"))
}

fn parse(kind: &str, text: &str) -> Result<serde_json::Value, ron::Error> {
    match kind {
        "value" => ron::from_str::<ron::Value>(text).map(|v| value_to_json(&v)),
        "dynamic-assets" => parse_as::<DynamicAssetCollection>(text),
        "atlas-layout" => parse_as::<TextureAtlasLayout>(text),
        "image-meta" => parse_as::<ImageMeta>(text),
        _ => unreachable!(),
    }
}

const KINDS: [&str; 4] = ["value", "dynamic-assets", "atlas-layout", "image-meta"];

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let mut kind = String::from("value");
    if args.peek().map(String::as_str) == Some("--type") {
        args.next();
        kind = args.next().unwrap_or_default();
    }
    if !KINDS.contains(&kind.as_str()) {
        eprintln!("unknown --type {kind:?}; expected one of {KINDS:?}");
        return ExitCode::from(2);
    }
    let files: Vec<String> = args.collect();
    if files.is_empty() {
        eprintln!("usage: pixelbuild-ron-check [--type KIND] FILE...");
        return ExitCode::from(2);
    }
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("{file}: {err}");
                return ExitCode::from(2);
            }
        };
        match parse(&kind, &text) {
            Ok(json) => println!("{json}"),
            Err(err) => {
                let ron::Error { code, position } = err;
                eprintln!("{file}:{}:{}: {code}", position.line, position.col);
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
