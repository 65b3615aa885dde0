// The wire module: what the server and the typed client (built for the browser too) share. Nothing
// under src/protocol/wire/ imports Node, Nest or anything outside this folder.
export * from './codes.js';
export * from './frames.js';
export * from './limits.js';
export { TokenBucket } from './token-bucket.js';
