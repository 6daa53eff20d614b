/** Severity of a structured log line; `LOG_LEVEL` drops everything below it. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Fields of a log line: ids, counts and codes only, never message bodies or tokens. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/**
 * One JSON object per line (`{"ts","level","event",...fields}`), which
 * Workers Logs and Logpush index by field. Callers pass ids, never content.
 */
export class Logger {
  readonly #min: number;

  constructor(level: LogLevel) {
    this.#min = RANK[level];
  }

  debug(event: string, fields: LogFields = {}): void {
    this.#write("debug", event, fields);
  }
  info(event: string, fields: LogFields = {}): void {
    this.#write("info", event, fields);
  }
  warn(event: string, fields: LogFields = {}): void {
    this.#write("warn", event, fields);
  }
  error(event: string, fields: LogFields = {}): void {
    this.#write("error", event, fields);
  }

  #write(level: LogLevel, event: string, fields: LogFields): void {
    if (RANK[level] < this.#min) return;
    const line = JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields }, (_k, v: unknown) =>
      typeof v === "string" && v.length > 500 ? `${v.slice(0, 500)}…` : v
    );
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.log(line);
  }
}
