export { Module, StateDictError, type LoadReport, type StateDictSource, type StateDictEntry } from './module.js';
export * from './layers.js';
export * from './optim.js';
