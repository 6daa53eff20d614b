import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

/** Drizzle over the D1 binding. Cheap to create; make one per request or object. */
export function createDb(d1: D1Database) {
  return drizzle(d1, { schema });
}
export type Db = ReturnType<typeof createDb>;
