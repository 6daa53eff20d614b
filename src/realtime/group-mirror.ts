import type { Db } from "../db/client";
import { mirrorStatements, runBatch } from "../db/groups";
import type { AlarmScheduler } from "../store/alarm";
import type { GroupState } from "../store/group-state";

const MIRROR_BATCH = 50;
const MIRROR_RETRY_MS = 30_000;

/**
 * A group's copy in D1 (record and members, for HTTP reads and lookups):
 * the state's outbox of mirror ops replayed into D1 in order, one flush at
 * a time; a failed flush is retried from the group's alarm.
 */
export class GroupMirror {
  #chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: GroupState,
    private readonly db: Db,
    private readonly alarm: AlarmScheduler
  ) {}

  /** Replays the pending ops; resolves once they are in D1, or the retry is armed. */
  flush(): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      try {
        for (;;) {
          const { upTo, ops } = this.state.mirrorBatch(MIRROR_BATCH);
          if (ops.length === 0) return;
          await runBatch(this.db, mirrorStatements(this.db, ops));
          this.state.mirrorDone(upTo);
        }
      } catch (err) {
        console.error("D1 mirror failed; will retry", err);
        await this.alarm.ensure(Date.now() + MIRROR_RETRY_MS);
      }
    });
    return this.#chain;
  }
}
