/** @module checkpoint (filled in as the parts land). */
export {};
