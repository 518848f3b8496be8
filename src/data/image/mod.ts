/** @module image codecs: RGB JPEG via sharp, palette PNG masks via fast-png. */
export * from "./errors.ts";
export * from "./rgb.ts";
export * from "./png.ts";
