import { existsSync } from "node:fs";
import { crc32, deflateSync } from "node:zlib";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "./dev-server";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.REQUIRE_BROWSER !== "1") {
  console.warn(
    `\n[browser tests] SKIPPED (only these): no Chromium at ${CHROMIUM}.\n` +
      "  To run them: apt-get install -y chromium (or set CHROMIUM_PATH), then npm test.\n"
  );
}

/** A `w`×`h` opaque red PNG. */
function pngOf(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.concat(Array.from({ length: h }, () => Buffer.from([0, ...Array.from({ length: w }, () => [255, 0, 0]).flat()])));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

/** Every text a test sends carries this, so assertions never match an earlier test's messages. */
const nonce = Math.random().toString(36).slice(2, 8);

/** CI sets REQUIRE_BROWSER=1: there a missing Chromium fails these tests instead of skipping them. */
const required = process.env.REQUIRE_BROWSER === "1";

describe.skipIf(!available && !required)("the demo page in a real browser (Chromium)", () => {
  let server: DevServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    if (!available) throw new Error(`REQUIRE_BROWSER=1 but no Chromium at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
    server = await startDevServer({ vars: { DEV_MODE: "true" } });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    });
  });
  afterEach(async () => {
    // Each test starts with nobody signed in (presence depends on it).
    await Promise.all(contexts.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function signIn(uid: string, phone = false): Promise<Page> {
    const ctx = await browser.newContext(phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : {});
    contexts.push(ctx);
    const page = await ctx.newPage();
    await page.goto(server.url);
    await page.getByTestId(`login-${uid}`).click();
    await page.locator('#conn[data-state="open"]').waitFor();
    return page;
  }

  const conv = (page: Page, key: string) => page.getByTestId(`conv-${key}`);
  const messages = (page: Page, text: string) => page.locator("#messages .msg .text", { hasText: text });

  async function say(page: Page, text: string): Promise<void> {
    await page.locator("#composer-input").fill(text);
    await page.locator("#send").click();
  }

  /** Waits until `text` is shown, then a little longer, and returns how many times it is shown. */
  async function shownOnce(page: Page, text: string): Promise<number> {
    await messages(page, text).first().waitFor();
    await page.waitForTimeout(500);
    return messages(page, text).count();
  }

  it("two users chat: online dots, unread counts, read ticks, on a desktop and a phone-sized screen", async () => {
    const alice = await signIn("alice");
    const bob = await signIn("bob", true);
    await conv(alice, "dm:bob").locator('[data-testid="online"][data-online="true"]').waitFor();

    await conv(alice, "dm:bob").click();
    await say(alice, `hello bob ${nonce}`);
    const badge = conv(bob, "dm:alice").getByTestId("unread");
    await badge.waitFor();
    expect(await badge.textContent()).toBe("1");

    await conv(bob, "dm:alice").click();
    expect(await shownOnce(bob, `hello bob ${nonce}`)).toBe(1);
    await expect.poll(() => conv(bob, "dm:alice").getByTestId("unread").count()).toBe(0);
    // Bob read it: Alice's message gets the read tick.
    await alice.locator(`#messages .msg[data-status="read"] .text`, { hasText: `hello bob ${nonce}` }).waitFor();

    await say(bob, `hi alice ${nonce}`);
    expect(await shownOnce(alice, `hi alice ${nonce}`)).toBe(1);
    expect(await bob.locator("#convs").isVisible()).toBe(false); // phone layout: the thread fills the screen
  });

  it("one goes offline, the other sends, the first comes back and sees each message exactly once", async () => {
    const alice = await signIn("alice");
    const bob = await signIn("bob");
    await conv(bob, "dm:alice").click();
    await bob.locator("#toggle-online").click();
    await bob.locator('#conn[data-state="idle"]').waitFor();
    await conv(alice, "dm:bob").locator('[data-testid="online"][data-online="false"]').waitFor();

    await conv(alice, "dm:bob").click();
    const texts = [1, 2, 3].map((n) => `while you were away ${n} ${nonce}`);
    for (const t of texts) {
      await say(alice, t);
      await alice.locator(`#messages .msg[data-status="sent"] .text`, { hasText: t }).waitFor();
    }
    expect(await messages(bob, nonce).filter({ hasText: "away" }).count()).toBe(0);

    await bob.locator("#toggle-online").click();
    await bob.locator('#conn[data-state="open"]').waitFor();
    for (const t of texts) expect(await shownOnce(bob, t)).toBe(1);
    // In order, after everything that came before.
    const shown = await bob.locator("#messages .msg .text").allTextContents();
    expect(shown.filter((t) => t.includes("away") && t.includes(nonce))).toEqual(texts);

    // A reload replays the inbox: still exactly once.
    await bob.reload();
    await bob.getByTestId("login-bob").click();
    await bob.locator('#conn[data-state="open"]').waitFor();
    await conv(bob, "dm:alice").click();
    for (const t of texts) expect(await shownOnce(bob, t)).toBe(1);
  });

  it("three users chat in a group", async () => {
    const [alice, bob, carol] = [await signIn("alice"), await signIn("bob"), await signIn("carol", true)];
    for (const p of [alice, bob, carol]) await conv(p, "group:g_demo").click();
    await say(alice, `group hello ${nonce}`);
    for (const p of [alice, bob, carol]) expect(await shownOnce(p, `group hello ${nonce}`)).toBe(1);
    await say(carol, `carol here ${nonce}`);
    for (const p of [alice, bob, carol]) expect(await shownOnce(p, `carol here ${nonce}`)).toBe(1);
    expect(await bob.locator("#messages .msg:not(.mine) .from").last().textContent()).toBe("carol");
  });

  it("shows typing, reactions, edits and recalls on the other side", async () => {
    const alice = await signIn("alice");
    const bob = await signIn("bob");
    await conv(alice, "dm:bob").click();
    await conv(bob, "dm:alice").click();
    await alice.locator("#composer-input").pressSequentially("typ");
    await bob.getByTestId("typing").waitFor({ state: "visible" });

    await say(alice, `react to this ${nonce}`);
    const onBob = bob.locator("#messages .msg", { hasText: `react to this ${nonce}` });
    await onBob.waitFor();
    await onBob.getByTitle("react 👍").click();
    const onAlice = alice.locator("#messages .msg", { hasText: `react to this ${nonce}` });
    await expect.poll(() => onAlice.getByTestId("reactions").textContent()).toBe("👍 1");

    alice.once("dialog", (d) => void d.accept(`edited text ${nonce}`));
    await onAlice.getByTitle("edit").click();
    await bob.locator("#messages .msg", { hasText: `edited text ${nonce}` }).waitFor();
    expect(await messages(bob, `react to this ${nonce}`).count()).toBe(0);
    await alice.locator("#messages .msg", { hasText: `edited text ${nonce}` }).getByTitle("recall (within 2 minutes)").click();
    await expect.poll(() => bob.locator("#messages .msg.recalled").count()).toBeGreaterThan(0);
    expect(await messages(bob, `edited text ${nonce}`).count()).toBe(0);
  });

  it("asks for notification permission and shows a notification for a message in a conversation that is not open", async () => {
    const alice = await signIn("alice");
    await alice.context().grantPermissions(["notifications"], { origin: server.url });
    await alice.locator("#notifications").click();
    await alice.locator('#notifications[data-on="true"]').waitFor();
    const bob = await signIn("bob");
    await conv(bob, "dm:alice").click();
    await say(bob, `ping for a notification ${nonce}`);
    const shown = () =>
      alice.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => `${n.title}: ${n.body} [${n.tag}]`));
    await expect.poll(shown, { timeout: 10_000 }).toContain(`bob: ping for a notification ${nonce} [dm:bob]`);
  });

  it("sends an image: uploaded to R2 through its slot, shown on both sides, gone on recall", async () => {
    const alice = await signIn("alice");
    const bob = await signIn("bob");
    await conv(alice, "dm:bob").click();
    await conv(bob, "dm:alice").click();
    const png = pngOf(2, 1);
    await alice.locator("#attach").setInputFiles({ name: `pic-${nonce}.png`, mimeType: "image/png", buffer: png });
    const shown = (page: Page) => page.locator("#messages .msg img[data-testid=image]").last();
    for (const page of [alice, bob]) {
      await expect.poll(() => shown(page).evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 10_000 }).toBe(2);
    }
    const src = await shown(bob).getAttribute("src");
    expect(src).toMatch(/\/api\/v1\/media\/a_[0-9A-Z]{26}\?exp=\d+&sig=/);
    const mine = alice.locator("#messages .msg.mine", { has: alice.locator("img[data-testid=image]") }).last();
    await mine.getByTitle("recall (within 2 minutes)").click();
    await expect.poll(async () => (await fetch(new URL(src!, server.url))).status).toBe(404);
  });
});
