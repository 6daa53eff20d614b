/**
 * Versioned DDL for DO-local SQLite. `PRAGMA user_version` is not available
 * in Durable Objects, so the applied version lives in `_schema`. Steps are
 * append-only: never edit one that has shipped, add a new one.
 */
export function migrate(sql: SqlStorage, steps: readonly string[]): void {
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  const current = row?.version ?? 0;
  if (current >= steps.length) return;
  for (let v = current; v < steps.length; v++) sql.exec(steps[v]!);
  if (row) sql.exec("UPDATE _schema SET version = ?", steps.length);
  else sql.exec("INSERT INTO _schema (version) VALUES (?)", steps.length);
}
