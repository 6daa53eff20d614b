/**
 * One error model for every boundary. A code is a stable snake_case string
 * with a number (for clients that switch on integers), the HTTP status used
 * when it crosses HTTP, and whether retrying the same request can succeed.
 */
export const ERRORS = {
  internal: { num: 100, http: 500, retryable: true },
  unavailable: { num: 101, http: 503, retryable: true },
  rate_limited: { num: 102, http: 429, retryable: true },
  unauthorized: { num: 200, http: 401, retryable: false },
  token_expired: { num: 201, http: 401, retryable: false },
  forbidden: { num: 202, http: 403, retryable: false },
  forged_sender: { num: 203, http: 403, retryable: false },
  stranger: { num: 204, http: 403, retryable: false },
  not_member: { num: 205, http: 403, retryable: false },
  muted: { num: 206, http: 403, retryable: false },
  blocked: { num: 207, http: 403, retryable: false },
  not_author: { num: 208, http: 403, retryable: false },
  recall_expired: { num: 209, http: 403, retryable: false },
  banned: { num: 210, http: 403, retryable: false },
  rejected: { num: 211, http: 403, retryable: false },
  bad_request: { num: 300, http: 400, retryable: false },
  invalid_json: { num: 301, http: 400, retryable: false },
  unknown_type: { num: 302, http: 400, retryable: false },
  invalid_frame: { num: 303, http: 400, retryable: false },
  frame_too_large: { num: 304, http: 413, retryable: false },
  message_too_large: { num: 306, http: 413, retryable: false },
  too_many_mentions: { num: 307, http: 400, retryable: false },
  page_too_large: { num: 308, http: 400, retryable: false },
  too_many_reactions: { num: 309, http: 400, retryable: false },
  attachment_too_large: { num: 310, http: 413, retryable: false },
  binary_not_supported: { num: 305, http: 400, retryable: false },
  not_found: { num: 400, http: 404, retryable: false },
  unknown_user: { num: 401, http: 404, retryable: false },
  unknown_message: { num: 402, http: 404, retryable: false },
  unknown_group: { num: 403, http: 404, retryable: false },
  group_dismissed: { num: 404, http: 410, retryable: false },
  message_recalled: { num: 405, http: 410, retryable: false },
  unknown_attachment: { num: 406, http: 404, retryable: false },
  conflict: { num: 500, http: 409, retryable: false },
  already_member: { num: 501, http: 409, retryable: false },
  owner_must_transfer: { num: 502, http: 409, retryable: false },
  group_full: { num: 503, http: 409, retryable: false }
} as const satisfies Record<
  string,
  { num: number; http: number; retryable: boolean }
>;

export type ErrorCode = keyof typeof ERRORS;

/** The wire shape of an error, in WebSocket replies and HTTP bodies alike. */
export interface ErrorBody {
  code: ErrorCode;
  num: number;
  message: string;
  retryable: boolean;
  /** Field-level problems for validation errors: path → message. */
  fields?: Record<string, string>;
  /** `rate_limited`: when a retry can succeed, in ms. */
  retryAfterMs?: number;
}

/** An expected failure with a code. Anything else thrown is a bug (`internal`). */
export class ProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly fields?: Record<string, string>,
    readonly retryAfterMs?: number
  ) {
    super(message);
    this.name = "ProtocolError";
  }

  toBody(): ErrorBody {
    const body = errorBody(this.code, this.message, this.fields);
    return this.retryAfterMs === undefined ? body : { ...body, retryAfterMs: this.retryAfterMs };
  }
}

export function errorBody(
  code: ErrorCode,
  message: string,
  fields?: Record<string, string>
): ErrorBody {
  const { num, retryable } = ERRORS[code];
  return fields
    ? { code, num, message, retryable, fields }
    : { code, num, message, retryable };
}

/** Flattens zod issues into `path → message` for `fields`. */
export function fieldErrors(
  issues: readonly { path: readonly PropertyKey[]; message: string }[]
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const issue of issues) {
    const key = issue.path.map(String).join(".") || "(root)";
    out[key] ??= issue.message;
  }
  return out;
}

/** An HTTP response carrying {@link errorBody} as `{ error }`, with the code's status. */
export function errorResponse(
  code: ErrorCode,
  message: string,
  fields?: Record<string, string>
): Response {
  return Response.json({ error: errorBody(code, message, fields) }, { status: ERRORS[code].http });
}
