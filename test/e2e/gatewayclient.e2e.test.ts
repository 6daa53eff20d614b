import { execFile, spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MessageEvent, WelcomeFrame } from "../../src/protocol";
import { ImClient } from "../helpers/client";
import { SeedClient } from "../helpers/seed-client";
import { adminClient, type DevServer, startDevServer } from "./dev-server";

/**
 * The seed's ThinkPHP controller `RestfulApi` (test/e2e/php/RestfulApi.php,
 * copied from the seed with only its register address changed) run by
 * php-cli against wrangler dev, through the drop-in GatewayClient\Gateway
 * of docs/gatewayclient/Gateway.php.
 */

const PHP = process.env.PHP_PATH ?? "php";
const HARNESS = path.join(import.meta.dirname, "php");
const available = spawnSync(PHP, ["-r", "exit(function_exists('json_encode') ? 0 : 1);"]).status === 0;
if (!available && process.env.REQUIRE_PHP !== "1") {
  console.warn(
    `\n[gatewayclient tests] SKIPPED (only these): no php-cli (${PHP}) with json.\n` +
      "  To run them: apt-get install -y php-cli (or set PHP_PATH), then npm test.\n"
  );
}

/** CI sets REQUIRE_PHP=1: there a missing php fails these tests instead of skipping them. */
const required = process.env.REQUIRE_PHP === "1";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a harness script (asynchronously: the sockets keep receiving meanwhile). */
function php(script: string, args: string[], env: Record<string, string | undefined>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(PHP, [path.join(HARNESS, script), ...args], { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

type GatewayAnswer = { result: unknown; export: string } | { exception: { message: string; code: number } };

describe.skipIf(!available && !required)("the seed's RestfulApi controller through the drop-in GatewayClient (php-cli)", () => {
  let server: DevServer;
  let admin: ReturnType<typeof adminClient>;
  let env: Record<string, string>;
  const sockets: { close(): void }[] = [];

  // Integer uids, as the seed's MySQL ids are, different on every run.
  const base = 9000 + 10 * (Date.now() % 100_000);
  const [u1, u2, u3, offline] = [base + 1, base + 2, base + 3, base + 4];
  const gid = base + 9;
  const nonce = Math.random().toString(36).slice(2, 8);

  let s1: SeedClient, s2: SeedClient, s3: SeedClient;
  let v2: ImClient, v3: ImClient;

  async function token(uid: number): Promise<string> {
    const { status, body } = await admin<{ token: string }>("POST", "/api/v1/tokens", { uid: String(uid) });
    expect(status).toBe(201);
    return body.token;
  }

  async function open(url: string): Promise<WebSocket> {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.addEventListener("open", resolve);
      ws.addEventListener("error", reject);
    });
    sockets.push(ws);
    return ws;
  }

  /** The seed's client protocol, `/ws/compat`. */
  async function compat(uid: number): Promise<SeedClient> {
    const ws = await open(`${server.wsUrl}/compat?${new URLSearchParams({ token: await token(uid), device: "seed" })}`);
    const c = new SeedClient(ws, String(uid), `${uid}:seed`);
    await c.settle(); // the socket is registered once it answers
    return c;
  }

  /** Protocol v1, `/ws`. */
  async function v1(uid: number): Promise<ImClient> {
    const ws = await open(`${server.wsUrl}?${new URLSearchParams({ token: await token(uid), device: "v1" })}`);
    const c = new ImClient(ws);
    expect(((await c.next("welcome")) as WelcomeFrame).uid).toBe(String(uid));
    return c;
  }

  /** One RestfulApi action, as ThinkPHP runs it for a JSON POST; returns what it printed. */
  async function controller(action: string, message: Record<string, unknown>, key = server.apiKey): Promise<Run> {
    return php("controller.php", [action, JSON.stringify({ message })], { ...env, IM_API_KEY: key });
  }

  async function gateway(method: string, args: unknown[], extra: Record<string, string> = {}): Promise<GatewayAnswer> {
    const run = await php("gateway.php", [method, JSON.stringify(args)], { ...env, ...extra });
    expect(run, run.stderr).toMatchObject({ code: 0, stderr: "" });
    return JSON.parse(run.stdout) as GatewayAnswer;
  }

  async function result(method: string, args: unknown[]): Promise<{ result: unknown; export: string }> {
    const a = await gateway(method, args);
    if ("exception" in a) throw new Error(`${method}(${JSON.stringify(args)}) threw ${JSON.stringify(a.exception)}`);
    return a;
  }

  beforeAll(async () => {
    if (!available) throw new Error(`REQUIRE_PHP=1 but no php-cli at ${PHP}: apt-get install -y php-cli, or set PHP_PATH`);
    server = await startDevServer();
    admin = adminClient(server);
    env = { IM_API_KEY: server.apiKey, IM_GATEWAY_URL: `${server.url}/api/v1/gateway` };
    for (const id of [u1, u2, u3, offline]) expect((await admin("POST", "/api/v1/users", { id: String(id) })).status).toBe(201);
    for (const [a, b] of [[u1, u2], [u1, u3], [u2, u3]]) {
      expect((await admin("POST", "/api/v1/friendships", { a: String(a), b: String(b) })).status).toBe(201);
    }
    const group = await admin("POST", "/api/v1/groups", { id: String(gid), name: "php group", owner: String(u1), members: [String(u2), String(u3)] });
    expect(group.status, JSON.stringify(group.body)).toBe(201);
    const members = await admin<{ members: { uid: string }[] }>("GET", `/api/v1/groups/${gid}/members`);
    expect(members.body.members.map((m) => m.uid).sort()).toEqual([u1, u2, u3].map(String).sort());

    [s1, s2, s3] = [await compat(u1), await compat(u2), await compat(u3)];
    [v2, v3] = [await v1(u2), await v1(u3)];
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await server?.stop();
  });

  it("keeps the controller as the seed wrote it but for the register address", async () => {
    const { readFile } = await import("node:fs/promises");
    const src = await readFile(path.join(HARNESS, "RestfulApi.php"), "utf8");
    expect(src).toContain("Gateway::$registerAddress = 'https://im.example.com/api/v1/gateway';");
    expect(src).toContain("Gateway::sendToUid($message['toUid'], json_encode($message));");
    expect(src).toContain("Gateway::sendToGroup($message['toUid'],json_encode($message),$client_id_array[0]);");
  });

  it("sendMsg: the recipient's compat socket gets json_encode($message) unchanged, its v1 socket a message (not a notice)", async () => {
    const message = { fromUid: u1, toUid: u2, isGroup: 0, type: "text", id: `php-dm-${nonce}`, content: "hi" };
    const run = await controller("sendMsg", message);
    expect(run, run.stderr).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(run.stdout)).toEqual({ code: 200, msg: "发送成功", data: message });

    const got = await s2.next("text", (f) => f.id === message.id);
    expect(got).toEqual(message);
    expect(typeof got.fromUid).toBe("number");

    const m = (await v2.next("message", (f) => f.from === String(u1))) as MessageEvent;
    expect(m).toMatchObject({ type: "message", chat: "dm", from: String(u1), to: String(u2), kind: "text" });
    for (const s of [s1, s2, s3]) await s.settle();
    expect(v2.seen((f) => f.type === "notice")).toEqual([]);
    expect(s1.seen("text").filter((f) => f.id === message.id)).toEqual([]); // never echoed to the sender
    expect(s3.seen("text").filter((f) => f.id === message.id)).toEqual([]);
    expect(v3.seen((f) => f.type === "message" && f.from === String(u1))).toEqual([]);
  });

  it("sendGroupMsg: the other members get the JSON unchanged (compat) or a group message (v1), the sender nothing", async () => {
    const message = { fromUid: u1, toUid: gid, isGroup: 1, type: "text", id: `php-group-${nonce}`, content: "大家好 / hello" };
    const run = await controller("sendGroupMsg", message);
    expect(run, run.stderr).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(run.stdout)).toEqual({ code: 200, msg: "发送成功", data: message });

    for (const s of [s2, s3]) expect(await s.next("text", (f) => f.id === message.id)).toEqual(message);
    for (const v of [v2, v3]) {
      const m = (await v.next("message", (f) => f.chat === "group" && f.to === String(gid))) as MessageEvent;
      expect(m).toMatchObject({ type: "message", chat: "group", from: String(u1), to: String(gid), kind: "text" });
    }
    for (const s of [s1, s2, s3]) await s.settle();
    expect(s1.seen("text").filter((f) => f.id === message.id)).toEqual([]);
    for (const v of [v2, v3]) expect(v.seen((f) => f.type === "notice")).toEqual([]);
    for (const s of [s1, s2, s3]) expect(s.seen("__bad")).toEqual([]);
  });

  it("answers the query methods in GatewayClient's PHP shapes", async () => {
    expect(await result("isUidOnline", [u1])).toEqual({ result: 1, export: "1" });
    expect(await result("isUidOnline", [offline])).toEqual({ result: 0, export: "0" });

    const clients = await result("getClientIdByUid", [u1]);
    expect(clients.result).toEqual([`${u1}:seed`]);
    expect(clients.export).toMatch(new RegExp(`^array \\(\\n  0 => '${u1}:seed',\\n\\)$`));
    expect(await result("isOnline", [`${u1}:seed`])).toMatchObject({ result: 1 });
    expect(await result("getUidByClientId", [`${u1}:seed`])).toEqual({ result: u1, export: String(u1) });

    // uid => uid, integer keys and values
    const uids = await result("getUidListByGroup", [gid]);
    expect(uids.result).toEqual(Object.fromEntries([u1, u2, u3].map((u) => [String(u), u])));
    for (const u of [u1, u2, u3]) expect(uids.export).toContain(`  ${u} => ${u},\n`);
    expect(await result("getUidCountByGroup", [gid])).toEqual({ result: 3, export: "3" });

    // client_id => client_id
    const list = await result("getClientIdListByGroup", [gid]);
    const expected = [`${u1}:seed`, `${u2}:seed`, `${u2}:v1`, `${u3}:seed`, `${u3}:v1`];
    expect(Object.keys(list.result as object).sort()).toEqual(expected.sort());
    for (const [k, v] of Object.entries(list.result as object)) expect(v).toBe(k);
    expect(await result("getClientIdCountByGroup", [gid])).toMatchObject({ result: 5 });
    expect(await result("getClientCountByGroup", [gid])).toMatchObject({ result: 5 });
    const sessions = await result("getClientSessionsByGroup", [gid]);
    expect(sessions.result).toEqual(Object.fromEntries(expected.map((c) => [c, []])));

    const all = await result("getAllUidList", []);
    expect(all.result).toMatchObject(Object.fromEntries([u1, u2, u3].map((u) => [String(u), u])));
    expect(all.result).not.toHaveProperty(String(offline));
  });

  it("joins, leaves, binds and closes through the void methods", async () => {
    const memberUids = async () =>
      (await admin<{ members: { uid: string }[] }>("GET", `/api/v1/groups/${gid}/members`)).body.members.map((m) => m.uid);
    expect(await result("joinGroup", [`${offline}:web`, gid])).toEqual({ result: null, export: "NULL" });
    expect(await memberUids()).toContain(String(offline));
    expect(await result("leaveGroup", [`${offline}:web`, gid])).toEqual({ result: null, export: "NULL" });
    expect(await memberUids()).not.toContain(String(offline));

    expect(await result("bindUid", [`${u1}:seed`, u1])).toEqual({ result: null, export: "NULL" });
    expect(await gateway("bindUid", [`${u1}:seed`, u2])).toEqual({ exception: { message: expect.stringMatching(/^forbidden: /), code: 403 } });

    const extra = new SeedClient(await open(`${server.wsUrl}/compat?${new URLSearchParams({ token: await token(u3), device: "extra" })}`), String(u3), `${u3}:extra`);
    await extra.settle();
    expect(await result("closeClient", [`${u3}:extra`])).toEqual({ result: true, export: "true" });
    expect((await extra.closed).code).toBe(4501);
    expect(await result("isOnline", [`${u3}:extra`])).toMatchObject({ result: 0 });
    expect(await result("isOnline", [`${u3}:seed`])).toMatchObject({ result: 1 });
  });

  it("throws for what the server does not offer, naming what to use instead", async () => {
    expect(await gateway("setSession", [`${u1}:seed`, { a: 1 }])).toEqual({
      exception: { message: expect.stringMatching(/^GatewayClient\\Gateway::setSession is not offered by edge-im; use /), code: 0 }
    });
  });

  it("throws on a wrong API key (the controller's request then fails), and prefers Gateway::$secretKey over IM_API_KEY", async () => {
    expect(await gateway("isUidOnline", [u1], { IM_API_KEY: "not-the-key" })).toEqual({
      exception: { message: expect.stringMatching(/^unauthorized: /), code: 401 }
    });
    const message = { fromUid: u1, toUid: u2, isGroup: 0, type: "text", id: `php-bad-key-${nonce}`, content: "never" };
    const run = await controller("sendMsg", message, "not-the-key");
    expect(run.code).toBe(255);
    expect(run.stderr + run.stdout).toMatch(/Uncaught Exception: unauthorized: /);

    expect(await gateway("isUidOnline", [u1], { IM_API_KEY: "not-the-key", IM_SECRET_KEY: server.apiKey })).toMatchObject({ result: 1 });
    await s2.settle();
    expect(s2.seen("text").filter((f) => f.id === message.id)).toEqual([]);
  });
});
