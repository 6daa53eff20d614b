/**
 * The TypeScript client SDK (browsers and Node 22): `import { EdgeImClient } from "edge-im/client"`.
 * It imports only the shared protocol schemas and types.
 */
export { type ClientEvents, type ClientOptions, type ConnectionState, EdgeImClient, type SendOptions } from "./client";
export { randomId, type SocketFactory, type SocketLike } from "./wire";
export { type BackoffOptions, backoffDelay } from "./backoff";
export { ImError } from "./errors";
export { LocalStorageStore, MemoryStore, type SeqStore } from "./store";
export type * from "../protocol";
