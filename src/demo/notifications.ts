/**
 * The demo's notifications: 🔔 asks for permission and registers the
 * service worker; a message from someone else then shows a notification
 * unless its conversation is open in a visible tab. Where the browser can
 * reach its push service, the tab also subscribes to Web Push, so messages
 * that arrive while no tab is open are notified by the server.
 */
import type { EdgeImClient } from "../client";

let registration: ServiceWorkerRegistration | undefined;

/** Whether notifications are on (permission granted and the worker registered). */
function notificationsOn(): boolean {
  return registration !== undefined && Notification.permission === "granted";
}

/** Asks for permission (a click's handler) and registers the worker; then subscribes to Web Push if it can. */
export async function enableNotifications(client: EdgeImClient | undefined, vapidPublicKey: string | undefined): Promise<boolean> {
  if (!("Notification" in window) || !("serviceWorker" in navigator)) return false;
  if ((await Notification.requestPermission()) !== "granted") return false;
  registration = await navigator.serviceWorker.register("/sw.js");
  await navigator.serviceWorker.ready;
  if (client && vapidPublicKey && "pushManager" in registration) {
    try {
      const sub = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromB64url(vapidPublicKey) });
      const json = sub.toJSON() as { endpoint: string; keys: { p256dh: string; auth: string } };
      await client.pushSubscribe({ type: "webpush", endpoint: json.endpoint, keys: json.keys });
    } catch (err) {
      // No push service reachable (offline, or a browser without one): page notifications still work.
      console.info("Web Push unavailable here:", (err as Error).message);
    }
  }
  return true;
}

/** Shows a notification for a message, replacing the conversation's previous one. */
export function notify(title: string, body: string, tag: string): void {
  if (!notificationsOn()) return;
  void registration!.showNotification(title, { body, tag });
}

function fromB64url(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
