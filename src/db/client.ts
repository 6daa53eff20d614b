import { drizzle } from "drizzle-orm/d1";
import { meteredD1 } from "../lib/meter";
import * as schema from "./schema";

/** Drizzle over the D1 binding (counted, see src/lib/meter.ts). Cheap to create; make one per request or object. */
export function createDb(d1: D1Database) {
  return drizzle(meteredD1(d1), { schema });
}
export type Db = ReturnType<typeof createDb>;
