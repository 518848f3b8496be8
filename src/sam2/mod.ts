/** @module sam2 (filled in as the parts land). */
export {};
