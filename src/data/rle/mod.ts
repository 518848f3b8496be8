/** @module COCO run-length encoding (pycocotools-compatible). */
export * from "./rle.ts";
export * from "./polygon.ts";
