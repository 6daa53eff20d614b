import { bodyLimit } from "hono/body-limit";
import { requireApiKey } from "./http/api-key";
import { newApp } from "./http/app-env";
import { notFound, onError } from "./http/errors";
import { connect } from "./http/routes/connect";
import { conversationRoutes } from "./http/routes/conversations";
import { importRoutes } from "./http/routes/import";
import { mediaAdmin, mediaFiles, userMedia } from "./http/routes/media";
import { pushSubscriptions } from "./http/routes/notifications";
import { statsRoutes } from "./http/routes/stats";
import { devRoutes } from "./http/routes/dev";
import { blockRoutes, userBlocks } from "./http/routes/blocks";
import { docs } from "./http/routes/docs";
import { friendRequests, userFriendRequests } from "./http/routes/friend-requests";
import { friendships } from "./http/routes/friendships";
import { groupRoutes } from "./http/routes/groups";
import { online } from "./http/routes/online";
import { push } from "./http/routes/push";
import { gateway } from "./http/routes/gateway";
import { schedules } from "./http/routes/schedules";
import { sessions } from "./http/routes/sessions";
import { tokens } from "./http/routes/tokens";
import { users } from "./http/routes/users";
import { ProtocolError } from "./protocol";
import { sweepMedia } from "./realtime/media";
import { limitsOf } from "./lib/config";
import { Logger } from "./lib/log";

/** Admin/API bodies are small JSON documents; larger ones get 413. */
const API_BODY_LIMIT = 1024 * 1024;

const api = newApp()
  .route("/", docs)
  .route("/media", mediaFiles)
  .use(requireApiKey)
  .use(
    bodyLimit({
      maxSize: API_BODY_LIMIT,
      onError: () => {
        throw new ProtocolError("frame_too_large", `request body exceeds ${API_BODY_LIMIT} bytes`);
      }
    })
  )
  .route("/tokens", tokens)
  .route("/users", users)
  .route("/users", sessions)
  .route("/users", userFriendRequests)
  .route("/users", userBlocks)
  .route("/users", conversationRoutes)
  .route("/users", userMedia)
  .route("/users", pushSubscriptions)
  .route("/media", mediaAdmin)
  .route("/friendships", friendships)
  .route("/friend-requests", friendRequests)
  .route("/blocks", blockRoutes)
  .route("/groups", groupRoutes)
  .route("/online", online)
  .route("/push", push)
  .route("/gateway", gateway)
  .route("/schedules", schedules)
  .route("/import", importRoutes)
  .route("/", statsRoutes);

const app = newApp()
  .get("/health", (c) => c.json({ ok: true, service: "edge-im", ts: Date.now() }))
  .route("/ws", connect)
  .route("/dev", devRoutes)
  .route("/api/v1", api);

app.onError(onError);
app.notFound(notFound);

export default {
  fetch: app.fetch,
  /** The cron (wrangler.toml `[triggers]`): deletes attachments never sent, and expired ones. */
  async scheduled(_controller, env) {
    const deleted = await sweepMedia(env);
    if (deleted > 0) new Logger(limitsOf(env).logLevel).info("media_swept", { deleted });
  }
} satisfies ExportedHandler<Env>;

/** The Hono app (its routes), for tests and the OpenAPI check. */
export { app };
export { UserObject } from "./objects/user";
export { GroupObject } from "./objects/group";
export { PresenceObject } from "./objects/presence";
export { SchedulerObject } from "./objects/scheduler";
export { RelayObject } from "./objects/relay";
