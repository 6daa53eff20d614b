import { describe, expect, it } from "vitest";
import { groupTag, newDirectMessageId, newEventId, seqSlotOf, tagOf } from "../../src/lib/ids";
import { messageIdSchema } from "../../src/protocol";

describe("message ids", () => {
  it("a direct message id carries its seq in the tag slot and stays a time-sortable message id", () => {
    for (const seq of [1, 31, 32, 1_000_000, 2 ** 40 - 1]) {
      const mid = newDirectMessageId(1_700_000_000_000, seq);
      expect(messageIdSchema.safeParse(mid).success).toBe(true);
      expect(seqSlotOf(mid)).toBe(seq);
    }
    const earlier = newDirectMessageId(1_700_000_000_000, 900);
    const later = newDirectMessageId(1_700_000_000_001, 2);
    expect(earlier < later).toBe(true);
    expect(earlier.slice(0, 10)).toBe(newEventId(1_700_000_000_000).slice(0, 10));
  });

  it("two ids of the same millisecond and seq still differ (40 random bits)", () => {
    const ids = new Set(Array.from({ length: 1_000 }, () => newDirectMessageId(1_700_000_000_000, 7)));
    expect(ids.size).toBe(1_000);
  });

  it("a group message id carries its group's tag", () => {
    const mid = newEventId(1_700_000_000_000, groupTag("g_team"));
    expect(tagOf(mid)).toBe(groupTag("g_team"));
    expect(messageIdSchema.safeParse(mid).success).toBe(true);
  });
});
