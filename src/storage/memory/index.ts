export { createMemoryStorage } from "./store.js";
export type { MemoryStorageOptions } from "./store.js";
