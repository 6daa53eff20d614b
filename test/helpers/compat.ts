import { call, tokenFor } from "./fixtures";
import { SeedClient } from "./seed-client";

export async function connectSeed(uid: string, device?: string): Promise<SeedClient> {
  const q = new URLSearchParams({ token: await tokenFor(uid) });
  if (device) q.set("device", device);
  const res = await call(`/ws/compat?${q}`, { headers: { Upgrade: "websocket" } });
  if (res.status !== 101 || !res.webSocket) throw new Error(`compat connect ${uid}: ${res.status} ${await res.text()}`);
  res.webSocket.accept();
  return new SeedClient(res.webSocket, uid);
}
