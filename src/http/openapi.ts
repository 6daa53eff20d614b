import { z } from "zod";
import { ERRORS, type ErrorCode, httpErrorSchema } from "../protocol";

/**
 * One documented API operation. Route files declare it next to their handler
 * and validate with the same schemas, so the OpenAPI document cannot drift
 * from what the code accepts; a test checks that every route is listed.
 */
export interface Operation {
  method: "get" | "put" | "post" | "patch" | "delete";
  /** Full path in OpenAPI style, e.g. `/api/v1/users/{uid}`. */
  path: string;
  summary: string;
  tag: string;
  /** The GatewayWorker call this route replaces, for the parity table. */
  gateway?: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Accepts an `Idempotency-Key` header. */
  idempotent?: boolean;
  ok: { status: number; description: string; schema?: z.ZodType; also?: { status: number; description: string } };
  /** Error codes this route answers besides 400/401/413/429/500. */
  errors?: ErrorCode[];
  /** No API key needed. */
  public?: boolean;
}

const operations: Operation[] = [];

/** Declares an operation (once, at module load) and returns it for the handler to use. */
export function op<const T extends Operation>(o: T): T {
  operations.push(o);
  return o;
}

export function allOperations(): readonly Operation[] {
  return operations;
}

const COMMON_ERRORS: ErrorCode[] = ["bad_request", "unauthorized", "frame_too_large", "rate_limited", "internal"];

/**
 * JSON Schema of `s`. Recursive parts (the JSON body type) come out of zod as
 * local `$defs`; OpenAPI resolves references from the document root, so they
 * move to `components.schemas` (named by content, so repeats share one entry).
 */
function schemaOf(s: z.ZodType, io: "input" | "output", components: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _drop, $defs, ...rest } = z.toJSONSchema(s, { target: "draft-2020-12", io, unrepresentable: "any" }) as Record<
    string,
    unknown
  > & { $defs?: Record<string, unknown> };
  if (!$defs) return rest;
  const names = new Map<string, string>();
  for (const [local, def] of Object.entries($defs)) {
    const name = `S${hash(JSON.stringify(def))}`;
    names.set(local, name);
    components[name] = def;
  }
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) =>
          k === "$ref" && typeof x === "string" && x.startsWith("#/$defs/")
            ? [k, `#/components/schemas/${names.get(x.slice(8))}`]
            : [k, rewrite(x)]
        )
      );
    }
    return v;
  };
  for (const name of names.values()) components[name] = rewrite(components[name]);
  return rewrite(rest) as Record<string, unknown>;
}

function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(36);
}

/** Path or query parameters from an object schema. */
function parameters(s: z.ZodType | undefined, where: "path" | "query", components: Record<string, unknown>) {
  if (!s) return [];
  const json = schemaOf(s, "input", components) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, schema]) => ({
    name,
    in: where,
    required: where === "path" || (json.required ?? []).includes(name),
    schema
  }));
}

/** The OpenAPI 3.1 document for every declared operation. */
export function openApiDocument(serverUrl: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const components: Record<string, unknown> = {};
  const errorSchema = schemaOf(httpErrorSchema, "output", components);
  for (const o of operations) {
    const content = o.ok.schema ? { content: { "application/json": { schema: schemaOf(o.ok.schema, "output", components) } } } : {};
    const responses: Record<string, unknown> = { [o.ok.status]: { description: o.ok.description, ...content } };
    if (o.ok.also) responses[o.ok.also.status] = { description: o.ok.also.description, ...content };
    const codes = [...(o.public ? ["bad_request", "internal"] : COMMON_ERRORS), ...(o.errors ?? [])] as ErrorCode[];
    for (const status of new Set(codes.map((c) => ERRORS[c].http))) {
      const names = codes.filter((c) => ERRORS[c].http === status);
      responses[status] = {
        description: `error: ${names.join(", ")}`,
        content: { "application/json": { schema: errorSchema } }
      };
    }
    const headers = o.idempotent
      ? [{
          name: "Idempotency-Key",
          in: "header",
          required: false,
          description: "Repeating a request with the same key (within 24 h) replays the first answer and delivers nothing twice.",
          schema: { type: "string", maxLength: 128 }
        }]
      : [];
    (paths[o.path] ??= {})[o.method] = {
      summary: o.summary,
      tags: [o.tag],
      operationId: `${o.method}${o.path.replace(/\/api\/v1/, "").replace(/[{}]/g, "").replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? "").toUpperCase())}`,
      ...(o.gateway ? { description: `GatewayWorker: \`${o.gateway}\`` } : {}),
      parameters: [...parameters(o.params, "path", components), ...parameters(o.query, "query", components), ...headers],
      ...(o.body ? { requestBody: { required: true, content: { "application/json": { schema: schemaOf(o.body, "input", components) } } } } : {}),
      responses,
      security: o.public ? [] : [{ apiKey: [] }]
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "edge-im HTTP API",
      version: "1.0.0",
      description: "Push, presence and management API of the edge IM server. Every error is `{error: {code, num, message, retryable, fields?}}`."
    },
    servers: [{ url: serverUrl }],
    components: {
      schemas: components,
      securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "API_KEY" } }
    },
    paths
  };
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/** A self-contained, readable page of the same document (no external scripts). */
export function docsPage(doc: Record<string, unknown>): string {
  const paths = doc.paths as Record<string, Record<string, { summary: string; tags: string[]; description?: string; requestBody?: unknown; responses: Record<string, { description: string }> }>>;
  const byTag = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, o] of Object.entries(methods)) {
      const body = o.requestBody
        ? `<details><summary>request body</summary><pre>${escape(JSON.stringify((o.requestBody as { content: { "application/json": { schema: unknown } } }).content["application/json"].schema, null, 2))}</pre></details>`
        : "";
      const responses = Object.entries(o.responses).map(([s, r]) => `<li><b>${s}</b> ${escape(r.description)}</li>`).join("");
      const html = `<section><h3><code>${method.toUpperCase()} ${escape(path)}</code></h3><p>${escape(o.summary)}</p>${o.description ? `<p>${escape(o.description)}</p>` : ""}${body}<ul>${responses}</ul></section>`;
      const tag = o.tags[0] ?? "other";
      byTag.set(tag, [...(byTag.get(tag) ?? []), html]);
    }
  }
  const info = doc.info as { title: string; description: string };
  const sections = [...byTag].map(([tag, items]) => `<h2>${escape(tag)}</h2>${items.join("")}`).join("");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(info.title)}</title><style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f4f4f4;border-radius:4px;padding:0 .3em}pre{padding:.5em;overflow:auto}section{border-top:1px solid #ddd;padding:.3em 0}</style></head><body><h1>${escape(info.title)}</h1><p>${escape(info.description)} Machine-readable: <a href="openapi.json">openapi.json</a>. Authorization: <code>Bearer &lt;API_KEY&gt;</code>.</p>${sections}</body></html>`;
}
