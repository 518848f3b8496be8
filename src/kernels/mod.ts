/** @module kernels (filled in as the parts land). */
export {};
