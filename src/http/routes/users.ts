import { createDb } from "../../db/client";
import { insertUser } from "../../db/users";
import { createUserBodySchema, ProtocolError, type User } from "../../protocol";
import { newApp } from "../app-env";
import { valid } from "../validate";

/** `POST /api/v1/users {id, name?}` → 201 with the user; 409 if the id is taken. */
export const users = newApp().post("/", valid("json", createUserBodySchema), async (c) => {
  const { id, name } = c.req.valid("json");
  const row = await insertUser(createDb(c.env.DB), id, name);
  if (!row) throw new ProtocolError("conflict", `user ${id} already exists`);
  const user: User = { id: row.id, name: row.name, createdAt: row.createdAt };
  return c.json(user, 201);
});
