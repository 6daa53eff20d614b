// The demo's service worker: shows the page's notifications, and Web Push
// notifications (payloads as docs/protocol.md "Offline notifications"
// describes) where the browser can reach its push service.
self.addEventListener("push", (event) => {
  const p = event.data ? event.data.json() : {};
  const title = p.chat === "group" ? `${p.from} in ${p.conv}` : String(p.from ?? "edge-im");
  const body = p.text ?? (p.count > 1 ? `${p.count} new messages` : "New message");
  event.waitUntil(self.registration.showNotification(title, { body, tag: `${p.chat}:${p.conv}` }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((tabs) => (tabs.length > 0 ? tabs[0].focus() : self.clients.openWindow("/")))
  );
});
