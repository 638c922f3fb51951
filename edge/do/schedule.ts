/**
 * A Durable Object has one alarm; this keeps a table of named jobs with due times and points the
 * alarm at the earliest. Jobs are `kind` or `kind:detail` strings (`compact`, `policy:evaluate`,
 * later `rollout:evaluate:<id>`), so new kinds sit beside old ones without a schema change.
 */
export const SCHEDULE_SCHEMA = 'CREATE TABLE IF NOT EXISTS schedule (job TEXT PRIMARY KEY, due INTEGER NOT NULL)'

/** The schedule table of one Durable Object. */
export class Schedule {
  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {}

  /** Makes `job` due at `due`; with `earliest`, an earlier due time already set is kept. */
  set(job: string, due: number, opts: { earliest?: boolean } = {}): void {
    const keep = opts.earliest ? 'MIN(due, excluded.due)' : 'excluded.due'
    this.sql.exec(
      `INSERT INTO schedule (job, due) VALUES (?1, ?2) ON CONFLICT (job) DO UPDATE SET due = ${keep}`,
      job,
      due,
    )
  }

  /** When `job` is due, or null when it is not scheduled. */
  dueAt(job: string): number | null {
    const row = this.sql.exec<{ due: number }>('SELECT due FROM schedule WHERE job = ?1', job).toArray()[0]
    return row?.due ?? null
  }

  /** Removes `job`. */
  clear(job: string): void {
    this.sql.exec('DELETE FROM schedule WHERE job = ?1', job)
  }

  /** Removes every job whose name starts with `prefix`. */
  clearPrefix(prefix: string): void {
    this.sql.exec('DELETE FROM schedule WHERE substr(job, 1, length(?1)) = ?1', prefix)
  }

  /** The earliest due time of the jobs whose name starts with `prefix`, or null. */
  dueAtPrefix(prefix: string): number | null {
    return this.sql
      .exec<{ due: number | null }>(
        'SELECT MIN(due) AS due FROM schedule WHERE substr(job, 1, length(?1)) = ?1',
        prefix,
      )
      .one().due
  }

  /** Jobs due at or before `now`, earliest first. */
  due(now: number): string[] {
    return this.sql
      .exec<{ job: string }>('SELECT job FROM schedule WHERE due <= ?1 ORDER BY due, job', now)
      .toArray()
      .map((r) => r.job)
  }

  /**
   * Points the alarm at the earliest job (or removes it when nothing is scheduled). Due times are on
   * the object's clock; `clock` is that clock's reading now, so an injected clock (tests) maps to the
   * same delay on the runtime's clock instead of an alarm in the past that would fire in a loop.
   */
  async arm(clock = Date.now()): Promise<void> {
    // Read and set without an await in between: storage applies calls in order, so the last call
    // (made from the latest table) wins even when an alarm and an ingest arm concurrently.
    const row = this.sql.exec<{ due: number | null }>('SELECT MIN(due) AS due FROM schedule').one()
    if (row.due === null) return this.storage.deleteAlarm()
    return this.storage.setAlarm(row.due + (Date.now() - clock))
  }
}
