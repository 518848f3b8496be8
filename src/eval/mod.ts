/** @module eval (filled in as the parts land). */
export {};
