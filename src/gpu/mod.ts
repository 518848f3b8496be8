/** @module gpu (filled in as the parts land). */
export {};
