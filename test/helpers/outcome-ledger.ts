import pg from 'pg';
import { isOutcomeUnknown } from '../../src/index.js';

type Outcome = 'pending' | 'resolved' | 'rejected' | 'unknown';

/**
 * A ledger of writes, each with a unique id, and what the router said of each. {@link check} compares it with what
 * the database holds: a resolved write is there exactly once, one rejected without `outcomeUnknown` is absent, one
 * rejected with `outcomeUnknown` is there at most once, and none is still pending.
 */
export class OutcomeLedger {
  private readonly outcomes = new Map<number, Outcome>();
  private readonly errors = new Map<number, unknown>();

  /** Records the write of `id` made by `write`, and what became of it. */
  track<T>(id: number, write: Promise<T>): Promise<T> {
    if (this.outcomes.has(id)) throw new Error(`id ${id} written twice by the test`);
    this.outcomes.set(id, 'pending');
    write.then(
      () => this.outcomes.set(id, 'resolved'),
      (error: unknown) => {
        this.outcomes.set(id, isOutcomeUnknown(error) ? 'unknown' : 'rejected');
        this.errors.set(id, error);
      },
    );
    return write;
  }

  /** How many writes ended each way. */
  counts(): Record<Outcome, number> {
    const counts: Record<Outcome, number> = { pending: 0, resolved: 0, rejected: 0, unknown: 0 };
    for (const outcome of this.outcomes.values()) counts[outcome]++;
    return counts;
  }

  /** The error a write was rejected with. */
  errorOf(id: number): unknown {
    return this.errors.get(id);
  }

  /**
   * Reads `SELECT id, count(*) … GROUP BY id` from `table` on `url` (directly, not through the router) and returns
   * every breach of the ledger's rules, as readable lines (empty: none).
   */
  async check(url: string, table: string, idColumn = 'id'): Promise<string[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let present: Map<number, number>;
    try {
      const { rows } = await client.query<{ id: string; n: string }>(
        `SELECT ${idColumn} AS id, count(*) AS n FROM ${table} GROUP BY ${idColumn}`,
      );
      present = new Map(rows.map((row) => [Number(row.id), Number(row.n)]));
    } finally {
      await client.end();
    }
    const breaches: string[] = [];
    for (const [id, outcome] of this.outcomes) {
      const n = present.get(id) ?? 0;
      if (outcome === 'pending') breaches.push(`id ${id}: still pending`);
      else if (outcome === 'resolved' && n !== 1) breaches.push(`id ${id}: resolved, but present ${n} times`);
      else if (outcome === 'rejected' && n !== 0)
        breaches.push(
          `id ${id}: rejected as not done (${String((this.errors.get(id) as Error)?.message)}), but present ${n} times`,
        );
      else if (outcome === 'unknown' && n > 1) breaches.push(`id ${id}: outcome unknown, but present ${n} times`);
    }
    for (const [id, n] of present)
      if (!this.outcomes.has(id)) breaches.push(`id ${id}: present ${n} times, never written`);
    return breaches;
  }
}
