/**
 * Soak: minutes of mixed load against a fresh `wrangler dev` (direct messages
 * between friends and posts to a group) while clients drop at random (some
 * abruptly, some politely) and reconnect with `?since=`. At the end every
 * user syncs their whole inbox and the run is audited: every acked message
 * must be in every entitled inbox exactly once (lost 0, duplicated 0), and
 * in order: a recipient stores one sender's direct messages in the order the
 * sender stored them, and a group's messages in gseq order (out of order 0).
 * Not a test: `npm run soak -- --minutes 3`. Exit code 1 if anything was lost,
 * duplicated or out of order.
 *
 *   --minutes 2  --users 24  --group 12  --rate 40 (messages/s in total)  --drop 0.03 (chance per client per second)
 */
import { parseArgs } from "node:util";
import { BenchClient, type MessageFrame } from "./client.ts";
import { befriend, createGroup, createUsers } from "./setup.ts";
import { defaultStateDir, startTarget } from "./targets.ts";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "2" },
    users: { type: "string", default: "24" },
    group: { type: "string", default: "12" },
    rate: { type: "string", default: "40" },
    drop: { type: "string", default: "0.03" }
  }
});
const MINUTES = Number(values.minutes);
const USERS = Number(values.users);
const GROUP = Math.min(USERS, Number(values.group));
const RATE = Number(values.rate);
const DROP = Number(values.drop);

interface Sent {
  from: number;
  /** A user index, or -1 for the group. */
  to: number;
  cmid: string;
  body: { k: number };
  mid?: string;
  /** From the ack: the sender's inbox seq (direct) or the group's gseq. */
  order?: number;
  attempts: number;
}

const target = await startTarget("ours", { stateDir: defaultStateDir() });
const uids = Array.from({ length: USERS }, (_, i) => `soak${i}`);
const gid = "g_soak";
const friendsOf = (i: number) => [(i + 1) % USERS, (i + USERS - 1) % USERS];
const clients: (BenchClient | undefined)[] = [];
/**
 * Per user: mid → the positions it was seen at: its inbox seq, or for a
 * group message its gseq (negated, to keep the two apart). A mid at two
 * positions was stored twice.
 */
const seen = uids.map(() => new Map<string, Set<number>>());
const counts = { sent: 0, acked: 0, retried: 0, refused: 0, drops: 0, reconnects: 0 };
const messages: Sent[] = [];
const waiting: Sent[] = [];

function onMessage(c: BenchClient, m: MessageFrame): void {
  const i = c.tag;
  const at = seen[i]!.get(m.mid) ?? new Set<number>();
  at.add(m.seq ?? -(m.gseq ?? 0));
  seen[i]!.set(m.mid, at);
}

async function open(i: number): Promise<void> {
  const since = clients[i]?.lastSeq ?? 0;
  clients[i] = undefined;
  for (;;) {
    try {
      clients[i] = await BenchClient.connect({ wsUrl: target.wsUrl, uid: uids[i]!, token: target.token(uids[i]!), device: "soak", since, onMessage, tag: i });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function attempt(s: Sent): void {
  const c = clients[s.from];
  if (!c?.open) {
    waiting.push(s);
    return;
  }
  s.attempts++;
  const frame = s.to < 0 ? { type: "send", chat: "group", to: gid, cmid: s.cmid, body: s.body } : { type: "send", to: uids[s.to], cmid: s.cmid, body: s.body };
  c.request(frame, (r) => {
    if (r.ok) {
      const ack = r.result as { mid: string; seq: number; gseq?: number };
      s.mid = ack.mid;
      s.order = s.to < 0 ? ack.gseq : ack.seq;
      counts.acked++;
    } else if (r.error?.retryable) {
      counts.retried++;
      waiting.push(s); // same cmid: the server stores it once however often it is resent
    } else {
      counts.refused++;
      console.error("refused", s, r.error);
    }
  });
}

try {
  await createUsers(target, uids);
  await befriend(target, uids.map((u, i) => [u, uids[(i + 1) % USERS]!] as const));
  await createGroup(target, gid, uids.slice(0, GROUP));
  for (let i = 0; i < USERS; i++) await open(i);
  console.log(`soak: ${USERS} users, group of ${GROUP}, ${RATE} msg/s, drop ${DROP}/client/s, ${MINUTES} min against wrangler dev`);

  const end = Date.now() + MINUTES * 60_000;
  let k = 0;
  let lastReport = Date.now();
  while (Date.now() < end) {
    const tick = Date.now();
    for (let n = 0; n < RATE / 10; n++) {
      const from = Math.floor(Math.random() * USERS);
      const toGroup = from < GROUP && Math.random() < 0.3;
      const s: Sent = { from, to: toGroup ? -1 : friendsOf(from)[Math.floor(Math.random() * 2)]!, cmid: `c${k}`, body: { k: k++ }, attempts: 0 };
      messages.push(s);
      counts.sent++;
      attempt(s);
    }
    for (const s of waiting.splice(0)) attempt(s);
    for (let i = 0; i < USERS; i++) {
      const c = clients[i];
      if (c?.open && Math.random() < DROP / 10) {
        counts.drops++;
        if (Math.random() < 0.5) c.terminate();
        else c.close();
        void open(i).then(() => counts.reconnects++);
      }
    }
    if (Date.now() - lastReport > 15_000) {
      lastReport = Date.now();
      console.log(`  ${Math.round((end - Date.now()) / 1000)} s left: ${JSON.stringify(counts)}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
  }

  // Drain: every message acked or refused, every client connected.
  for (let i = 0; i < 600 && messages.some((s) => !s.mid) && counts.refused === 0; i++) {
    for (let u = 0; u < USERS; u++) if (!clients[u]?.open) await open(u);
    for (const s of waiting.splice(0)) attempt(s);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Group fan-out runs in the background: give it a moment, then every user reads their whole inbox.
  await new Promise((r) => setTimeout(r, 3_000));
  for (let i = 0; i < USERS; i++) {
    if (!clients[i]?.open) await open(i);
    await clients[i]!.syncAll(0, i < GROUP ? [gid] : []);
  }

  let expected = 0;
  let delivered = 0;
  let lost = 0;
  let duplicated = 0;
  for (const s of messages) {
    if (!s.mid) continue;
    const entitled = s.to < 0 ? uids.slice(0, GROUP).map((_, i) => i) : [s.from, s.to];
    for (const i of entitled) {
      expected++;
      const at = seen[i]!.get(s.mid);
      if (!at) {
        lost++;
        if (lost <= 5) console.error(`lost: message k=${s.body.k} (${s.mid}) from ${uids[s.from]} never reached ${uids[i]}`);
      } else {
        delivered++;
        if (at.size > 1) {
          duplicated++;
          console.error(`duplicated: message k=${s.body.k} (${s.mid}) stored for ${uids[i]} at seqs ${[...at].join(", ")}`);
        }
      }
    }
  }
  const { outOfOrder, orderChecked } = auditOrder();
  const unacked = messages.filter((s) => !s.mid).length;
  const summary = { ...counts, unacked, expectedDeliveries: expected, delivered, lost, duplicated, outOfOrder, orderChecked };
  console.log(JSON.stringify(summary, null, 2));
  for (const c of clients) c?.close();
  process.exitCode = lost === 0 && duplicated === 0 && outOfOrder === 0 && unacked === 0 && counts.refused === 0 ? 0 : 1;
} finally {
  await target.stop();
}

/**
 * Messages a recipient stored before one that its sender stored earlier (per
 * sender for direct messages; for the group, a message whose place in the
 * recipient's stream is not the gseq its ack gave, or out of gseq order),
 * and how many consecutive pairs were compared.
 */
function auditOrder(): { outOfOrder: number; orderChecked: number } {
  let bad = 0;
  let checked = 0;
  for (let i = 0; i < USERS; i++) {
    const streams = new Map<string, { order: number; seq: number; k: number }[]>();
    for (const s of messages) {
      if (!s.mid || s.order === undefined || (s.to >= 0 && (s.from === i || s.to !== i))) continue;
      if (s.to < 0 && i >= GROUP) continue;
      const at = seen[i]!.get(s.mid)?.values().next().value;
      if (at === undefined) continue; // lost: counted above
      const seq = s.to < 0 ? -at : at;
      if (s.to < 0 && seq !== s.order) {
        bad++;
        console.error(`misplaced: ${uids[i]} has group message k=${s.body.k} at gseq ${seq}, its ack said ${s.order}`);
      }
      const key = s.to < 0 ? "group" : `dm:${s.from}`;
      streams.set(key, [...(streams.get(key) ?? []), { order: s.order, seq, k: s.body.k }]);
    }
    for (const [key, list] of streams) {
      list.sort((a, b) => a.order - b.order);
      for (let j = 1; j < list.length; j++) {
        checked++;
        if (list[j]!.seq < list[j - 1]!.seq) {
          bad++;
          if (bad <= 5) console.error(`out of order: ${uids[i]} stored k=${list[j]!.k} (${key}) before k=${list[j - 1]!.k}`);
        }
      }
    }
  }
  return { outOfOrder: bad, orderChecked: checked };
}
