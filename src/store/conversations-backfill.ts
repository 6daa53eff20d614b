/** Set once messages stored before the conversation index existed were indexed. */
const INDEXED_KEY = "convs.indexed";

/**
 * Indexes messages an inbox stored before the conversation index existed
 * (see conversations.ts), once per inbox, and carries over the read marks of
 * direct chats kept before (`reads`). Set-based SQL (no rows in memory) and
 * synchronous, so it commits as one; run at object start, before any event.
 * The seed's control frames (seed-shaped frames of `controlKinds`) stay out,
 * as `Conversations.columns` keeps them out.
 */
export function backfillConversations(sql: SqlStorage, kv: SyncKvStorage, uid: string, controlKinds: ReadonlySet<string>): void {
  if (kv.get(INDEXED_KEY) === true) return;
  sql.exec(
    `UPDATE inbox SET
       conv = CASE
         WHEN json_extract(event, '$.chat') = 'group' THEN 'g:' || json_extract(event, '$.to')
         WHEN json_extract(event, '$.from') = ?1 THEN 'd:' || json_extract(event, '$.to')
         ELSE 'd:' || json_extract(event, '$.from') END,
       mine = json_extract(event, '$.from') = ?1,
       gone = CASE WHEN json_extract(event, '$.deleted') THEN 2 WHEN json_extract(event, '$.recalled') IS NOT NULL THEN 1 ELSE 0 END,
       text = CASE json_type(event, '$.body')
         WHEN 'text' THEN json_extract(event, '$.body')
         WHEN 'object' THEN CASE json_type(event, '$.body.text') WHEN 'text' THEN json_extract(event, '$.body.text') END
       END
     WHERE conv IS NULL AND json_extract(event, '$.type') = 'message'
       AND NOT (json_extract(event, '$.kind') IN (SELECT value FROM json_each(?2))
                AND json_extract(event, '$.body.type') = json_extract(event, '$.kind')
                AND json_type(event, '$.body.fromUid') IS NOT NULL AND json_type(event, '$.body.toUid') IS NOT NULL)`,
    uid,
    JSON.stringify([...controlKinds])
  );
  sql.exec(
    `INSERT INTO convs (conv, last_seq, last_at)
     SELECT conv, max(seq), max(json_extract(event, '$.ts')) FROM inbox WHERE conv IS NOT NULL AND gone < 2 GROUP BY conv
     ON CONFLICT (conv) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq), last_at = max(last_at, excluded.last_at)`
  );
  sql.exec(
    `UPDATE convs SET read_seq = max(read_seq, coalesce((SELECT seq FROM reads WHERE 'd:' || reads.peer = convs.conv), 0))`
  );
  // Unread counts from scratch, in one pass.
  sql.exec(
    `UPDATE convs SET unread = coalesce((SELECT n FROM
       (SELECT i.conv AS conv, count(*) AS n FROM inbox i JOIN convs c ON c.conv = i.conv
        WHERE i.seq > c.read_seq AND i.mine = 0 AND i.gone = 0 GROUP BY i.conv) t
       WHERE t.conv = convs.conv), 0)`
  );
  kv.put(INDEXED_KEY, true);
}
