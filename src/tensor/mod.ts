/** @module tensor (filled in as the parts land). */
export {};
