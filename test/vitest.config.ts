import { createECDH, generateKeyPairSync } from "node:crypto";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const root = path.resolve(import.meta.dirname, "..");

/**
 * Fixed secrets for the workerd tests; `npm run dev` provisions random ones.
 * JWT_SECRET lists a previous secret after the current one, as during a rotation.
 */
export const TEST_SECRETS = {
  JWT_SECRET: "test-jwt-secret-0123456789abcdef,test-jwt-secret-previous-0123",
  API_KEY: "test-api-key-old,test-api-key,test-api-key-burst"
};

// Wrangler checks `[secrets] required` against process.env; the bindings below win.
process.env.JWT_SECRET ??= TEST_SECRETS.JWT_SECRET;
process.env.API_KEY ??= TEST_SECRETS.API_KEY;

/** An identity provider's ES256 key: the public half is the deployment's JWKS, the private half signs the tests' tokens. */
const idp = generateKeyPairSync("ec", { namedCurve: "P-256" });
const IDP_KID = "test-idp-1";

/** The deployment's Web Push (VAPID) key pair, as `npm run dev` provisions one. */
const vapid = createECDH("prime256v1");
vapid.generateKeys();

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(root, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: path.join(root, "wrangler.toml") },
        miniflare: {
          // The per-key push budget is 6,000 per 10 s deployed; here 700, so its test
          // (with its own key, test-api-key-burst) reaches it within one window.
          ratelimits: { PUSH_KEY_LIMITER: { namespace_id: "1002", simple: { limit: 700, period: 10 } } },
          // A small member limit so `group_full` is testable with a 200-member
          // group, and a small fan-out budget so every group test crosses runs.
          bindings: {
            TEST_MIGRATIONS: migrations,
            JWT_JWKS: JSON.stringify({ keys: [{ ...idp.publicKey.export({ format: "jwk" }), kid: IDP_KID, alg: "ES256", use: "sig" }] }),
            TEST_IDP_PRIVATE_JWK: JSON.stringify({ ...idp.privateKey.export({ format: "jwk" }), kid: IDP_KID }),
            ...TEST_SECRETS,
            VAPID_PUBLIC_KEY: vapid.getPublicKey("base64url"),
            VAPID_PRIVATE_KEY: vapid.getPrivateKey("base64url"),
            // The tests' push service is local (unreachable on purpose): allowed like the real ones.
            WEB_PUSH_HOSTS: "127.0.0.1,push.services.mozilla.com",
            MAX_GROUP_MEMBERS: "205",
            FANOUT_CALLS_PER_RUN: "60",
            // Groups with more than 100 members online push through relay objects.
            FANOUT_RELAY_CHUNK: "100",
            // Group history keeps its newest 500 events, so retention by count is testable.
            GROUP_HISTORY_MAX: "500",
            // Sockets are reaped after an hour of silence here (90 s deployed): the
            // reaper's tests backdate a socket instead of waiting, and no other test
            // loses a quiet socket to it.
            IDLE_SOCKET_SECONDS: "3600",
            // Words no test message uses but the moderation tests.
            BLOCKED_WORDS: "verboten,forbiddenword",
            // Structured logs are asserted in the end-to-end tests; here they would only be noise.
            LOG_LEVEL: "warn"
          }
        }
      })
    ],
    test: {
      root,
      include: ["test/**/*.test.ts"],
      exclude: ["test/e2e/**", "test/unit/**"],
      setupFiles: [path.join(root, "test/setup.ts")],
      testTimeout: 20_000
    }
  };
});
