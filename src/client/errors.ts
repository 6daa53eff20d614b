import type { ErrorBody, ErrorCode } from "../protocol";

/** A refusal from the server (its error code) or a client-side failure. */
export class ImError extends Error {
  constructor(
    readonly code: ErrorCode | "timeout" | "queue_full" | "connection_lost" | "closed",
    message: string,
    readonly retryable = false,
    readonly fields?: Record<string, string>
  ) {
    super(message);
    this.name = "ImError";
  }

  static from(body: ErrorBody): ImError {
    return new ImError(body.code, body.message, body.retryable, body.fields);
  }
}
