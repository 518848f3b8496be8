/** @module pipeline (filled in as the parts land). */
export {};
