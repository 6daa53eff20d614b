/** Protocol v1: pure zod schemas and types, importable by clients and Node tests. */
export * from "./primitives";
export * from "./groups";
export * from "./errors";
export * from "./close-codes";
export * from "./client-frames";
export * from "./server-frames";
export * from "./codec";
export * from "./http";
export * from "./push";
export * from "./social";
export * from "./compat";
export * from "./rich";
export * from "./media";
export * from "./notifications";
export * from "./conversations";
export * from "./streams";
export * from "./replies";
