import { exports } from "cloudflare:workers";
import { mintToken } from "../../src/lib/tokens";
import type { GroupMessageEvent, GroupPage, MessageEvent, SyncResult, WelcomeFrame } from "../../src/protocol";
import { ImClient } from "./client";

export const API_KEY = "test-api-key";
export const JWT_SECRET = "test-jwt-secret-0123456789abcdef";
const BASE = "http://im.test";

/** A fresh user id, unique across the whole run. */
export function uniqueId(prefix = "u"): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 12)}`;
}

/** Calls the real Worker's fetch handler. */
export function call(path: string, init: RequestInit = {}): Promise<Response> {
  return exports.default.fetch(new Request(BASE + path, init));
}

/** An authorized JSON API call. */
export function api(
  method: string,
  path: string,
  body?: unknown,
  key = API_KEY,
  headers: Record<string, string> = {}
): Promise<Response> {
  return call(path, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
}

async function expectStatus(res: Response, status: number, what: string): Promise<void> {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${await res.text()}`);
}

export async function createUser(id = uniqueId()): Promise<string> {
  await expectStatus(await api("POST", "/api/v1/users", { id }), 201, `create ${id}`);
  return id;
}

export async function befriend(a: string, b: string): Promise<void> {
  const res = await api("POST", "/api/v1/friendships", { a, b });
  if (res.status !== 201 && res.status !== 200) await expectStatus(res, 201, `befriend ${a} ${b}`);
}

/** Two new users who are friends. */
export async function friends(): Promise<[string, string]> {
  const a = await createUser();
  const b = await createUser();
  await befriend(a, b);
  return [a, b];
}

export async function tokenFor(uid: string, ttlSeconds = 3600): Promise<string> {
  return (await mintToken(JWT_SECRET, uid, ttlSeconds)).token;
}

export interface ConnectOptions {
  device?: string;
  since?: number;
  token?: string;
}

/** Opens a real WebSocket through the Worker; throws with the HTTP error otherwise. */
export async function connect(uid: string, opts: ConnectOptions = {}): Promise<ImClient & { welcome: WelcomeFrame }> {
  const q = new URLSearchParams({ token: opts.token ?? (await tokenFor(uid)) });
  if (opts.device) q.set("device", opts.device);
  if (opts.since !== undefined) q.set("since", String(opts.since));
  const res = await call(`/ws?${q}`, { headers: { Upgrade: "websocket" } });
  if (res.status !== 101 || !res.webSocket) {
    throw new Error(`connect ${uid}: ${res.status} ${await res.text()}`);
  }
  res.webSocket.accept();
  const client = new ImClient(res.webSocket) as ImClient & { welcome: WelcomeFrame };
  client.welcome = await client.next("welcome");
  return client;
}

/** A text message frame (without id; `request` adds it). */
export function textTo(to: string, text: string, cmid = crypto.randomUUID()) {
  return { type: "send", to, cmid, body: { text } };
}

/** Reads a JSON response, failing with its body when the status is not `status`. */
export async function expectJson<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * The current copy of message `mid` as a device sees it after a full sync:
 * of its inbox, or with `gid` of that group's stream (group messages are
 * stored once, in the group).
 */
export async function copyOf(c: ImClient, mid: string, gid?: string): Promise<MessageEvent | GroupMessageEvent | undefined> {
  const page = await c.ok<SyncResult | GroupPage>(gid === undefined ? { type: "sync", after: 0 } : { type: "sync", gid, after: 0 });
  return (page.events as { type: string; mid?: string }[]).find((e): e is MessageEvent | GroupMessageEvent => e.type === "message" && e.mid === mid);
}
