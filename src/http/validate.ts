import { validator } from "hono/validator";
import type { z } from "zod";
import { fieldErrors, ProtocolError } from "../protocol";

type Target = "json" | "param" | "query";

const WHAT: Record<Target, string> = {
  json: "request body",
  param: "path parameter",
  query: "query parameter"
};

/**
 * Parses one part of the request with `schema` or throws `bad_request` with
 * field errors; handlers read only `c.req.valid(target)`.
 */
export function valid<T extends Target, S extends z.ZodType>(target: T, schema: S) {
  return validator(target, (value): z.infer<S> => {
    let parsed: z.ZodSafeParseResult<z.infer<S>>;
    try {
      parsed = schema.safeParse(value) as z.ZodSafeParseResult<z.infer<S>>;
    } catch {
      // z.json() recurses: a body nested deeply enough overflows the stack.
      throw new ProtocolError("bad_request", `invalid ${WHAT[target]}: nested too deeply`);
    }
    if (!parsed.success) {
      throw new ProtocolError("bad_request", `invalid ${WHAT[target]}`, fieldErrors(parsed.error.issues));
    }
    return parsed.data;
  });
}
