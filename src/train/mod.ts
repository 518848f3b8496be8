/** @module train (filled in as the parts land). */
export {};
