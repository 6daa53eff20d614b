/**
 * The demo page at `/`: a chat client built on the SDK and nothing else.
 * Dev only: it signs in through `POST /dev/login`, which exists only when
 * `DEV_MODE` is "true" (`npm run dev`).
 */
import {
  EdgeImClient,
  type ConnectionState,
  type GroupMessageEvent,
  type GroupUpdateEvent,
  type MessageEvent,
  randomId,
  type ReceiptEvent,
  type TypingEvent,
  type UpdateEvent
} from "../client";
import { attachmentOf, imageOf, sendImage } from "./attachments";
import { enableNotifications, notify } from "./notifications";

interface LoginResult {
  token: string;
  uid: string;
  friends: string[];
  groups: { id: string; name: string }[];
}

interface Msg {
  mid?: string;
  cmid?: string;
  from: string;
  text: string;
  ts: number;
  mine: boolean;
  status: "sending" | "sent" | "failed";
  /** The attachment the message names (shown as an image). */
  attachment?: string | undefined;
  edited?: boolean;
  recalled?: boolean;
  /** emoji → who reacted. */
  reactions: Record<string, string[]>;
}

interface Conv {
  key: string;
  kind: "dm" | "group";
  id: string;
  title: string;
  messages: Msg[];
  /** dm: presence of the peer. */
  online: boolean;
  /** Newest message I have read here (mid). */
  myRead: string;
  /** dm: newest of my messages the peer has read (mid). */
  peerRead: string;
  /** Newest of my messages a device of the peer received. */
  peerDelivered: string;
  /** Someone is typing here until this time (ms). */
  typingUntil: number;
}

const DEMO_USERS = ["alice", "bob", "carol", "dave"];
const el = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

let me = "";
let client: EdgeImClient | undefined;
let convs = new Map<string, Conv>();
let active: string | undefined;
let renderQueued = false;
/** The server's Web Push key, from the welcome. */
let vapidPublicKey: string | undefined;

async function login(uid: string): Promise<LoginResult> {
  const res = await fetch("/dev/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ uid }) });
  if (res.status === 404) throw new Error("The demo sign-in is off here: it needs DEV_MODE=true (npm run dev sets it).");
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new Error(body.error?.message ?? `login failed (${res.status})`);
  }
  return res.json() as Promise<LoginResult>;
}

function showLogin(): void {
  el("chat").hidden = true;
  el("login").hidden = false;
  const box = el("login-users");
  box.replaceChildren(
    ...DEMO_USERS.map((uid) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = uid;
      b.dataset.testid = `login-${uid}`;
      b.onclick = () => void signIn(uid);
      return b;
    })
  );
}

let signingIn = false;

async function signIn(uid: string): Promise<void> {
  if (signingIn || client) return;
  signingIn = true;
  el("login-error").textContent = "";
  let first: LoginResult;
  try {
    first = await login(uid);
  } catch (err) {
    el("login-error").textContent = (err as Error).message;
    return;
  } finally {
    signingIn = false;
  }
  me = uid;
  convs = new Map();
  for (const f of first.friends) addConv({ kind: "dm", id: f, title: f });
  for (const g of first.groups) addConv({ kind: "group", id: g.id, title: g.name });
  active = undefined;
  el("me").textContent = uid;
  el("login").hidden = true;
  el("chat").hidden = false;

  // The first token is used once; every reconnect asks for a fresh one.
  let token: string | undefined = first.token;
  // One device id per tab, kept across reloads (sessionStorage), so the server's device list stays small.
  const deviceKey = `device:${uid}`;
  const device = sessionStorage.getItem(deviceKey) ?? randomId();
  sessionStorage.setItem(deviceKey, device);
  const c = new EdgeImClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
    device,
    token: async () => {
      const t = token ?? (await login(uid)).token;
      token = undefined;
      return t;
    },
    reconnect: { minMs: 300, maxMs: 5_000 }
  });
  client = c;
  c.on("state", ({ state, delayMs }) => showState(state, delayMs));
  c.on("welcome", (w) => {
    vapidPublicKey = w.vapidPublicKey;
    void refreshOnline(c);
  });
  c.on("message", onMessage);
  c.on("receipt", onReceipt);
  c.on("update", onUpdate);
  c.on("typing", onTyping);
  c.on("presence", (p) => {
    const conv = convs.get(`dm:${p.uid}`);
    if (conv) conv.online = p.online;
    render();
  });
  c.connect();
  render();
}

function addConv(c: Pick<Conv, "kind" | "id" | "title">): Conv {
  const key = `${c.kind}:${c.id}`;
  const stored = c.kind === "group" ? (localStorage.getItem(`read:${me}:${key}`) ?? "") : "";
  const conv: Conv = { ...c, key, messages: [], online: false, myRead: stored, peerRead: "", peerDelivered: "", typingUntil: 0 };
  convs.set(key, conv);
  return conv;
}

async function refreshOnline(c: EdgeImClient): Promise<void> {
  try {
    const online = new Set(await c.online());
    for (const conv of convs.values()) if (conv.kind === "dm") conv.online = online.has(conv.id);
    render();
  } catch {
    // Presence frames keep the dots current; the next welcome retries.
  }
}

function textOf(body: unknown): string {
  if (typeof body === "string") return body;
  if (attachmentOf(body) !== undefined) return "📷 " + String((body as { name?: unknown }).name ?? "image");
  if (body && typeof body === "object" && typeof (body as { text?: unknown }).text === "string") return (body as { text: string }).text;
  return JSON.stringify(body);
}

function onMessage(e: MessageEvent | GroupMessageEvent): void {
  const key = e.chat === "group" ? `group:${e.to}` : `dm:${e.from === me ? e.to : e.from}`;
  const conv = convs.get(key) ?? addConv({ kind: e.chat === "group" ? "group" : "dm", id: key.slice(key.indexOf(":") + 1), title: key.slice(key.indexOf(":") + 1) });
  if (conv.messages.some((m) => m.mid === e.mid)) return;
  const mine = e.from === me;
  const pending = mine && e.cmid ? conv.messages.find((m) => m.cmid === e.cmid) : undefined;
  if (pending) {
    pending.mid = e.mid;
    pending.status = "sent";
  } else {
    conv.messages.push({
      mid: e.mid, cmid: e.cmid, from: e.from, ts: e.ts, mine, status: "sent", attachment: e.recalled ? undefined : attachmentOf(e.body),
      text: e.recalled ? "message recalled" : textOf(e.body), edited: e.edited !== undefined, recalled: e.recalled !== undefined,
      reactions: reactionsOf(e.reactions)
    });
    conv.messages.sort((a, b) => (a.mid ?? "~").localeCompare(b.mid ?? "~"));
  }
  if (active === key && document.visibilityState === "visible") markRead(conv);
  else if (!mine && !e.recalled) notify(e.chat === "group" ? `${e.from} in ${conv.title}` : e.from, textOf(e.body), key);
  render();
}

/** A message's reactions without a prototype: an emoji named `__proto__` or `toString` is just a key. */
function reactionsOf(from: Record<string, string[]> = {}): Record<string, string[]> {
  return Object.assign(Object.create(null) as Record<string, string[]>, from);
}

/** Edits, recalls, deletes and reactions change the message where it is shown. */
function onUpdate(u: UpdateEvent | GroupUpdateEvent): void {
  const key = u.chat === "group" ? `group:${u.to}` : `dm:${u.from === me ? u.to : u.from}`;
  const conv = convs.get(key);
  const msg = conv?.messages.find((m) => m.mid === u.mid);
  if (!conv || !msg) return;
  if (u.op === "edit" && u.body !== undefined) Object.assign(msg, { text: textOf(u.body), edited: true });
  if (u.op === "recall") Object.assign(msg, { text: "message recalled", recalled: true, edited: false, reactions: reactionsOf() });
  if (u.op === "delete") conv.messages.splice(conv.messages.indexOf(msg), 1);
  if ((u.op === "react" || u.op === "unreact") && u.emoji) {
    const users = (msg.reactions[u.emoji] ?? []).filter((x) => x !== u.from);
    if (u.op === "react") users.push(u.from);
    if (users.length > 0) msg.reactions[u.emoji] = users;
    else delete msg.reactions[u.emoji];
  }
  render();
}

function onTyping(t: TypingEvent): void {
  const conv = convs.get(t.chat === "group" ? `group:${t.to}` : `dm:${t.from}`);
  if (!conv) return;
  conv.typingUntil = t.active ? t.expiresAt : 0;
  render();
  if (t.active) setTimeout(render, Math.max(0, t.expiresAt - Date.now()) + 50);
}

function onReceipt(e: ReceiptEvent): void {
  if (e.kind === "delivered") {
    // One of the peer's devices has it: ✓✓ until they read it.
    const conv = e.from === me ? undefined : convs.get(`dm:${e.from}`);
    if (conv && e.mid > conv.peerDelivered) conv.peerDelivered = e.mid;
  } else if (e.from === me) {
    // I read this conversation on another device (or before a reload).
    const conv = convs.get(`dm:${e.to}`);
    if (conv && e.mid > conv.myRead) conv.myRead = e.mid;
  } else {
    const conv = convs.get(`dm:${e.from}`);
    if (conv && e.mid > conv.peerRead) conv.peerRead = e.mid;
  }
  render();
}

function unread(conv: Conv): number {
  return conv.messages.filter((m) => !m.mine && m.mid !== undefined && m.mid > conv.myRead).length;
}

/** Marks everything shown in `conv` read: a receipt for direct chats, a local mark for groups. */
function markRead(conv: Conv): void {
  const newest = [...conv.messages].reverse().find((m) => m.mid !== undefined);
  if (!newest?.mid || newest.mid <= conv.myRead || unread(conv) === 0) return;
  conv.myRead = newest.mid;
  if (conv.kind === "group") localStorage.setItem(`read:${me}:${conv.key}`, newest.mid);
  else void client?.read(conv.id, newest.mid).catch(() => undefined);
}

function open(key: string): void {
  active = key;
  document.body.classList.add("open-thread");
  const conv = convs.get(key);
  if (conv) markRead(conv);
  el<HTMLInputElement>("composer-input").focus();
  render();
}

async function send(text: string): Promise<void> {
  const conv = active ? convs.get(active) : undefined;
  if (!conv || !client) return;
  const cmid = randomId();
  const msg: Msg = { cmid, from: me, text, ts: Date.now(), mine: true, status: "sending", reactions: reactionsOf() };
  conv.messages.push(msg);
  el("send-error").textContent = "";
  render();
  try {
    const ack = await client.send(conv.id, { text }, { chat: conv.kind, cmid });
    msg.mid = ack.mid;
    msg.ts = ack.ts;
    msg.status = "sent";
    conv.messages.sort((a, b) => (a.mid ?? "~").localeCompare(b.mid ?? "~"));
  } catch (err) {
    msg.status = "failed";
    el("send-error").textContent = (err as Error).message;
  }
  render();
}

function showState(state: ConnectionState, delayMs?: number): void {
  const conn = el("conn");
  conn.dataset.state = state;
  conn.textContent =
    state === "open" ? "online" : state === "reconnecting" ? `reconnecting${delayMs ? ` in ${Math.ceil(delayMs / 1000)} s` : "…"}` : state === "connecting" ? "connecting…" : "offline";
  el("toggle-online").textContent = state === "idle" || state === "closed" ? "Go online" : "Go offline";
}

function render(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderConvs();
    renderThread();
  });
}

function renderConvs(): void {
  const items = [...convs.values()].sort((a, b) => {
    const la = a.messages.at(-1)?.mid ?? "";
    const lb = b.messages.at(-1)?.mid ?? "";
    return lb.localeCompare(la) || a.title.localeCompare(b.title);
  });
  el("convs").replaceChildren(
    ...items.map((conv) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "conv";
      b.dataset.testid = `conv-${conv.key}`;
      b.setAttribute("aria-current", String(conv.key === active));
      const dot = document.createElement("span");
      dot.className = conv.kind === "group" ? "dot group" : "dot";
      if (conv.kind === "dm") {
        dot.dataset.online = String(conv.online);
        dot.dataset.testid = "online";
      }
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = conv.title;
      const preview = document.createElement("span");
      preview.className = "preview";
      preview.textContent = conv.messages.at(-1)?.text ?? "";
      name.append(preview);
      b.append(dot, name);
      const n = unread(conv);
      if (n > 0) {
        const badge = document.createElement("span");
        badge.className = "unread";
        badge.dataset.testid = "unread";
        badge.textContent = String(n);
        b.append(badge);
      }
      b.onclick = () => open(conv.key);
      return b;
    })
  );
}

function renderThread(): void {
  const conv = active ? convs.get(active) : undefined;
  el("thread-title").textContent = conv ? conv.title : "Pick a conversation";
  el("typing").hidden = !conv || conv.typingUntil <= Date.now();
  el<HTMLInputElement>("composer-input").disabled = !conv;
  el<HTMLButtonElement>("send").disabled = !conv;
  const list = el("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(
    ...(conv?.messages ?? []).map((m) => {
      const li = document.createElement("li");
      li.className = `msg${m.mine ? " mine" : ""}${m.recalled ? " recalled" : ""}`;
      if (m.mid) li.dataset.mid = m.mid;
      if (conv!.kind === "group" && !m.mine) {
        const from = document.createElement("span");
        from.className = "from";
        from.textContent = m.from;
        li.append(from);
      }
      const text = document.createElement("span");
      text.className = "text";
      if (m.attachment && !m.recalled) text.append(imageOf(client!, m.attachment, render));
      else text.textContent = m.text;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + (m.edited ? " · edited" : "");
      if (m.mine) {
        const read = conv!.kind === "dm" && m.mid !== undefined && m.mid <= conv!.peerRead;
        const delivered = conv!.kind === "dm" && m.mid !== undefined && m.mid <= conv!.peerDelivered;
        const status = m.status === "sent" && read ? "read" : m.status === "sent" && delivered ? "delivered" : m.status;
        const tick = document.createElement("span");
        tick.className = "tick";
        tick.dataset.status = status;
        tick.dataset.testid = "tick";
        tick.textContent = status === "read" || status === "delivered" ? " ✓✓" : status === "sent" ? " ✓" : status === "failed" ? " !" : " …";
        li.dataset.status = status;
        meta.append(tick);
      }
      li.append(text, meta);
      const counts = Object.entries(m.reactions).map(([emoji, users]) => `${emoji} ${users.length}`);
      if (counts.length > 0) {
        const r = document.createElement("span");
        r.className = "reactions";
        r.dataset.testid = "reactions";
        r.textContent = counts.join("  ");
        li.append(r);
      }
      if (m.mid && !m.recalled) meta.append(actions(m));
      return li;
    })
  );
  if (atBottom || conv?.messages.at(-1)?.mine) list.scrollTop = list.scrollHeight;
}

/** 👍 toggles my reaction; ✎ edits and ↶ recalls my own message. */
function actions(m: Msg): HTMLElement {
  const box = document.createElement("span");
  box.className = "actions";
  const button = (label: string, title: string, run: () => Promise<unknown>) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.title = title;
    b.onclick = () => void run().catch((err: Error) => (el("send-error").textContent = err.message));
    box.append(b);
  };
  const mine = m.reactions["👍"]?.includes(me) ?? false;
  button("👍", mine ? "remove your 👍" : "react 👍", () => client!.react(m.mid!, "👍", mine));
  if (m.mine) {
    button("✎", "edit", async () => {
      const text = prompt("Edit message", m.text)?.trim();
      if (text) await client!.edit(m.mid!, { text });
    });
    button("↶", "recall (within 2 minutes)", () => client!.recall(m.mid!));
  }
  return box;
}

el("composer-input").oninput = () => {
  const conv = active ? convs.get(active) : undefined;
  if (conv) client?.typing(conv.id, true, conv.kind);
};
el<HTMLFormElement>("composer").onsubmit = (e) => {
  e.preventDefault();
  const input = el<HTMLInputElement>("composer-input");
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  void send(text);
};
el<HTMLInputElement>("attach").onchange = () => {
  const input = el<HTMLInputElement>("attach");
  const file = input.files?.[0];
  input.value = "";
  const conv = active ? convs.get(active) : undefined;
  if (!file || !conv || !client) return;
  const cmid = randomId();
  const msg: Msg = { cmid, from: me, text: `📷 ${file.name}`, ts: Date.now(), mine: true, status: "sending", reactions: reactionsOf() };
  conv.messages.push(msg);
  render();
  sendImage(client, conv.id, conv.kind, file, cmid).then(
    (ack) => {
      Object.assign(msg, { mid: ack.mid, ts: ack.ts, status: "sent", attachment: ack.attachment });
      render();
    },
    (err: Error) => {
      msg.status = "failed";
      el("send-error").textContent = err.message;
      render();
    }
  );
};
el("notifications").onclick = () => {
  void enableNotifications(client, vapidPublicKey).then((on) => {
    el("notifications").dataset.on = String(on);
    el("notifications").title = on ? "notifications on" : "notifications blocked";
  });
};
el("toggle-online").onclick = () => {
  if (!client) return;
  if (client.state === "idle" || client.state === "closed") client.connect();
  else client.pause();
};
el("sign-out").onclick = () => {
  client?.close();
  client = undefined;
  document.body.classList.remove("open-thread");
  showLogin();
};
el("back").onclick = () => {
  active = undefined;
  document.body.classList.remove("open-thread");
  render();
};
document.addEventListener("visibilitychange", () => {
  const conv = active ? convs.get(active) : undefined;
  if (conv && document.visibilityState === "visible") {
    markRead(conv);
    render();
  }
});

showLogin();
