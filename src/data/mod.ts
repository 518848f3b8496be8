/** @module data (filled in as the parts land). */
export {};
