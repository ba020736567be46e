// Node-only adapters of the weights I/O layer (they import node:fs).
export { fileSource } from './file-source.js';
export { loadClipTokenizer } from './clip-tokenizer-files.js';
