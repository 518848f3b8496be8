/** @module nn (filled in as the parts land). */
export {};
