import { newApp } from "../app-env";
import { docsPage, op, openApiDocument } from "../openapi";
import { z } from "zod";

op({
  method: "get", path: "/api/v1/openapi.json", tag: "docs", public: true, summary: "This API as an OpenAPI 3.1 document",
  ok: { status: 200, description: "the document", schema: z.record(z.string(), z.unknown()) }
});
op({
  method: "get", path: "/api/v1/docs", tag: "docs", public: true, summary: "A readable page of the same document",
  ok: { status: 200, description: "HTML" }
});

/** Public: the API's shape, never data. */
export const docs = newApp()
  .get("/openapi.json", (c) => c.json(openApiDocument(new URL(c.req.url).origin)))
  .get("/docs", (c) => c.html(docsPage(openApiDocument(new URL(c.req.url).origin))));
