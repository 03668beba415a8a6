// Load a pixelbuild sprite-sheet JSON with pixi.js's own Spritesheet, headless, and print what
// pixi made of it as JSON: texture keys in order, each texture's frame rect, and each animation
// as the labels of its textures (null where pixi found no texture for a frame name).
//
//   node check.mjs MODULES_DIR SHEET.json
//
// MODULES_DIR holds node_modules/pixi.js (tests/test_pixi_atlas.py installs it into a cache).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const [modules, sheetPath] = process.argv.slice(2);
// pixi's browser adapter reads `navigator` at import time; Node < 21 has none.
globalThis.navigator ??= { userAgent: "node" };
const require = createRequire(join(modules, "package.json"));
const { Spritesheet, Texture, TextureSource } = require("pixi.js");
const version = JSON.parse(
  readFileSync(join(modules, "node_modules", "pixi.js", "package.json"), "utf8"),
).version;

const data = JSON.parse(readFileSync(sheetPath, "utf8"));
const { w, h } = data.meta.size;
// No GPU, no image: an empty source of the atlas's size is all Spritesheet needs for rects.
const texture = new Texture({ source: new TextureSource({ width: w, height: h }) });
const sheet = new Spritesheet(texture, data);
await sheet.parse();

const rect = (t) => ({ x: t.frame.x, y: t.frame.y, w: t.frame.width, h: t.frame.height });
const out = {
  pixi: version,
  resolution: sheet.resolution,
  keys: Object.keys(sheet.textures),
  rects: Object.fromEntries(Object.entries(sheet.textures).map(([k, t]) => [k, rect(t)])),
  orig: Object.fromEntries(
    Object.entries(sheet.textures).map(([k, t]) => [k, [t.orig.width, t.orig.height]]),
  ),
  animations: Object.fromEntries(
    Object.entries(sheet.animations).map(([k, ts]) => [k, ts.map((t) => (t ? t.label : null))]),
  ),
};
console.log(JSON.stringify(out));
