import type { PushSubscribeFrame, PushUnsubscribeFrame, ReplyOf } from "../../protocol";
import type { Conn, UserHub } from "../hub";

/** Registers this device's push subscription (again: the same id, its keys refreshed). */
export async function onPushSubscribe(hub: UserHub, _conn: Conn, f: PushSubscribeFrame): Promise<ReplyOf<"push_subscribe">> {
  return hub.notifier.subscribe(f.subscription);
}

export async function onPushUnsubscribe(hub: UserHub, _conn: Conn, f: PushUnsubscribeFrame): Promise<ReplyOf<"push_unsubscribe">> {
  return { removed: hub.notifier.unsubscribe(f.subscription) };
}
