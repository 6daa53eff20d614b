import type { ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ERRORS, errorResponse, ProtocolError } from "../protocol";
import type { AppEnv } from "./app-env";

/**
 * The one HTTP error mapper: ProtocolError → its code and status; Hono's own
 * 4xx (malformed JSON, body too large) → a coded equivalent; anything else is
 * logged in full and answered with a generic 500.
 */
export const onError: ErrorHandler<AppEnv> = (err) => {
  if (err instanceof ProtocolError) {
    const res = Response.json({ error: err.toBody() }, { status: ERRORS[err.code].http });
    if (err.retryAfterMs !== undefined) res.headers.set("Retry-After", String(Math.ceil(err.retryAfterMs / 1000)));
    return res;
  }
  if (err instanceof HTTPException) {
    if (err.status === 413) return errorResponse("frame_too_large", "request body too large");
    if (err.status === 400) return errorResponse("invalid_json", err.message || "malformed request body");
    if (err.status === 401) return errorResponse("unauthorized", err.message || "unauthorized");
    return errorResponse(err.status >= 500 ? "internal" : "bad_request", err.message);
  }
  console.error("unhandled error", err);
  return errorResponse("internal", "internal error");
};

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  errorResponse("not_found", `no route ${c.req.method} ${new URL(c.req.url).pathname}`);
