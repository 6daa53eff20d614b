declare namespace Cloudflare {
  interface Env {
    /** Read from ../migrations by vitest.config.ts; applied by setup.ts. */
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** The private half of the test identity provider's ES256 key (JWK JSON, with its kid). */
    TEST_IDP_PRIVATE_JWK: string;
  }
}
