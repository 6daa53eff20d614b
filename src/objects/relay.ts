import { DurableObject } from "cloudflare:workers";
import { countCalls } from "../lib/meter";
import { yieldToIo } from "../realtime/fanout";
import { type LiveRun, type PushOutcome } from "../rpc/delivery";
import type { RelayRpc } from "../rpc/interfaces";
import { userStub } from "../rpc/stubs";

/**
 * A stateless relay of a big group's live fan-out (named `<gid>/<k>`): the
 * group hands it one batch of events for up to FANOUT_RELAY_CHUNK online
 * members, and it calls each member's object, `concurrency` at a time. So
 * a post reaches N online members in two steps, with ⌈N / chunk⌉ calls from
 * the group and at most a chunk from each relay, every invocation within
 * its subrequest budget. It stores nothing: what fails is the group's to
 * retry.
 */
export class RelayObject extends DurableObject<Env> implements RelayRpc {
  /** Pushes `batch` to each member; says who had no socket and who could not be reached. */
  async relay(gid: string, batch: [string, LiveRun[]][], concurrency: number): Promise<PushOutcome> {
    const out: PushOutcome = { offline: [], failed: [] };
    for (let i = 0; i < batch.length; i += concurrency) {
      const round = batch.slice(i, i + concurrency);
      const results = await Promise.allSettled(round.map(([uid, events]) => userStub(this.env, uid).live(gid, events)));
      results.forEach((r, j) => {
        const uid = round[j]![0];
        if (r.status === "rejected") out.failed.push(uid);
        else if (!r.value) out.offline.push(uid);
      });
      await yieldToIo();
    }
    return out;
  }
}

countCalls(RelayObject);
