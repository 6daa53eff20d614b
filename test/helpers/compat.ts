import { call, tokenFor } from "./fixtures";
import { SeedClient } from "./seed-client";

/** A `/ws/compat` socket of `uid` (its device named, so its `heart` answers are told apart from its other sockets'). */
export async function connectSeed(uid: string, device = `d${crypto.randomUUID().slice(0, 8)}`): Promise<SeedClient> {
  const q = new URLSearchParams({ token: await tokenFor(uid), device });
  const res = await call(`/ws/compat?${q}`, { headers: { Upgrade: "websocket" } });
  if (res.status !== 101 || !res.webSocket) throw new Error(`compat connect ${uid}: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new SeedClient(res.webSocket, uid, `${uid}:${device}`);
}
