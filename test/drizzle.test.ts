import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { asc, eq, relations, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { integer, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';
import { QueryRouter, type RoutedPool } from '../src/index.js';
import { sharedCluster } from './helpers/cluster.js';

const cluster = sharedCluster();
const primaryPort = Number(new URL(cluster.primaryUrl).port);
const replicaPorts = cluster.replicaUrls.map((url) => Number(new URL(url).port));

const authors = pgTable('drizzle_authors', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  // timestamp without time zone: Drizzle reads it through its own type parser (pg's `types` per query).
  joined: timestamp('joined').notNull().defaultNow(),
});
const books = pgTable('drizzle_books', {
  id: serial('id').primaryKey(),
  authorId: integer('author_id')
    .notNull()
    .references(() => authors.id),
  title: text('title').notNull(),
  pages: integer('pages').notNull(),
});
const authorsRelations = relations(authors, ({ many }) => ({ books: many(books) }));
const booksRelations = relations(books, ({ one }) => ({
  author: one(authors, { fields: [books.authorId], references: [authors.id] }),
}));
const schema = { authors, books, authorsRelations, booksRelations };

/** Where the statement ran, read through Drizzle's own `sql` template. */
const where = { port: sql<number>`inet_server_port()`, standby: sql<boolean>`pg_is_in_recovery()` };

describe('Drizzle (node-postgres driver) over router.asPool()', () => {
  let router: QueryRouter;
  let pool: RoutedPool;
  let db: NodePgDatabase<typeof schema>;

  beforeAll(async () => {
    router = new QueryRouter({ primary: cluster.primaryUrl, replicas: cluster.replicaUrls, pool: { max: 4 } });
    pool = router.asPool();
    // Drizzle's types name pg's own classes; the routed pool implements what its driver calls.
    db = drizzle({ client: pool as unknown as Pool, schema });
    await db.execute(sql`DROP TABLE IF EXISTS drizzle_books, drizzle_authors`);
    await db.execute(
      sql`CREATE TABLE drizzle_authors (id serial PRIMARY KEY, name text NOT NULL, joined timestamp NOT NULL DEFAULT now())`,
    );
    await db.execute(
      sql`CREATE TABLE drizzle_books (id serial PRIMARY KEY, author_id int NOT NULL REFERENCES drizzle_authors (id), title text NOT NULL, pages int NOT NULL)`,
    );
  });

  afterAll(async () => {
    await pool.end();
  });

  it('inserts on the primary, with RETURNING', async () => {
    const inserted = await db
      .insert(authors)
      .values([
        { name: 'Ursula', joined: new Date('2001-02-03T04:05:06Z') },
        { name: 'Iain', joined: new Date('2010-11-12T13:14:15Z') },
      ])
      .returning({ id: authors.id, name: authors.name, joined: authors.joined, ...where });
    expect(inserted.map((row) => [row.name, row.port, row.standby])).toEqual([
      ['Ursula', primaryPort, false],
      ['Iain', primaryPort, false],
    ]);
    expect(inserted[0]!.joined).toEqual(new Date('2001-02-03T04:05:06Z'));
    const [ursula, iain] = inserted;
    await db.insert(books).values([
      { authorId: ursula!.id, title: 'The Dispossessed', pages: 387 },
      { authorId: ursula!.id, title: 'The Lathe of Heaven', pages: 184 },
      { authorId: iain!.id, title: 'Excession', pages: 451 },
    ]);
  });

  it('updates and deletes on the primary', async () => {
    const updated = await db
      .update(books)
      .set({ pages: 388 })
      .where(eq(books.title, 'The Dispossessed'))
      .returning({ pages: books.pages, ...where });
    expect(updated).toEqual([{ pages: 388, port: primaryPort, standby: false }]);
    const [extra] = await db
      .insert(books)
      .values({ authorId: updated.length, title: 'Draft', pages: 1 })
      .returning({ id: books.id });
    const deleted = await db
      .delete(books)
      .where(eq(books.id, extra!.id))
      .returning({ title: books.title, ...where });
    expect(deleted).toEqual([{ title: 'Draft', port: primaryPort, standby: false }]);
  });

  it('runs a select with a join on a replica, with both same-named columns right', async () => {
    await cluster.waitForReplication();
    const rows = await db
      .select({
        bookId: books.id,
        authorId: authors.id,
        title: books.title,
        author: authors.name,
        joined: authors.joined,
        ...where,
      })
      .from(books)
      .innerJoin(authors, eq(books.authorId, authors.id))
      .orderBy(asc(books.title));
    expect(rows.map((row) => [row.title, row.author])).toEqual([
      ['Excession', 'Iain'],
      ['The Dispossessed', 'Ursula'],
      ['The Lathe of Heaven', 'Ursula'],
    ]);
    for (const row of rows) {
      expect(row.standby).toBe(true);
      expect(replicaPorts).toContain(row.port);
    }
    // Two columns named "id" in one row: only rows as arrays (rowMode 'array') keep both apart.
    const ids = await db
      .select({ bookId: books.id, authorId: authors.id })
      .from(books)
      .innerJoin(authors, eq(books.authorId, authors.id))
      .where(eq(books.title, 'Excession'));
    const direct = await router.query<{ book: number; author: number }>(
      "SELECT b.id AS book, a.id AS author FROM drizzle_books b JOIN drizzle_authors a ON a.id = b.author_id WHERE b.title = 'Excession'",
    );
    expect(ids).toEqual([{ bookId: direct.rows[0]!.book, authorId: direct.rows[0]!.author }]);
    expect(rows[0]!.joined).toEqual(new Date('2010-11-12T13:14:15Z'));
  });

  it('runs the relational query API on a replica', async () => {
    const found = await db.query.authors.findMany({
      with: { books: { columns: { title: true, pages: true }, orderBy: [asc(books.title)] } },
      extras: { standby: sql<boolean>`pg_is_in_recovery()`.as('standby') },
      orderBy: [asc(authors.name)],
    });
    expect(found.map((author) => ({ name: author.name, standby: author.standby, books: author.books }))).toEqual([
      { name: 'Iain', standby: true, books: [{ title: 'Excession', pages: 451 }] },
      {
        name: 'Ursula',
        standby: true,
        books: [
          { title: 'The Dispossessed', pages: 388 },
          { title: 'The Lathe of Heaven', pages: 184 },
        ],
      },
    ]);
    const book = await db.query.books.findFirst({ where: eq(books.title, 'Excession'), with: { author: true } });
    expect(book?.author.name).toBe('Iain');
  });

  it('runs db.transaction on the primary and commits', async () => {
    const seen = await db.transaction(async (tx) => {
      const [author] = await tx.insert(authors).values({ name: 'Octavia' }).returning({ id: authors.id });
      await tx.insert(books).values({ authorId: author!.id, title: 'Kindred', pages: 264 });
      // A plain select inside the transaction: it must see the uncommitted rows, so it must be on the primary.
      const [row] = await tx
        .select({ n: sql<number>`count(*)::int`, ...where })
        .from(books)
        .where(eq(books.authorId, author!.id));
      return row;
    });
    expect(seen).toEqual({ n: 1, port: primaryPort, standby: false });
    await cluster.waitForReplication();
    const committed = await db
      .select({ title: books.title, author: authors.name, ...where })
      .from(books)
      .innerJoin(authors, eq(books.authorId, authors.id))
      .where(eq(authors.name, 'Octavia'));
    expect(committed).toEqual([{ title: 'Kindred', author: 'Octavia', port: expect.any(Number), standby: true }]);
    expect(pool.checkedOutCount).toBe(0);
  });

  it('rolls a db.transaction back with tx.rollback(), and a nested one to its savepoint', async () => {
    await expect(
      db.transaction(async (tx) => {
        await tx.insert(authors).values({ name: 'Rolled back' });
        tx.rollback();
      }),
    ).rejects.toThrow(/rollback/i);
    await db.transaction(async (tx) => {
      await tx.insert(authors).values({ name: 'Kept' });
      await expect(
        tx.transaction(async (inner) => {
          await inner.insert(authors).values({ name: 'Savepoint' });
          throw new Error('undo the savepoint only');
        }),
      ).rejects.toThrow('undo the savepoint only');
    });
    await cluster.waitForReplication();
    const names = await db
      .select({ name: authors.name })
      .from(authors)
      .where(sql`${authors.name} IN ('Rolled back', 'Kept', 'Savepoint')`);
    expect(names).toEqual([{ name: 'Kept' }]);
    expect(pool.checkedOutCount).toBe(0);
  });

  it('keeps PostgreSQL errors with their SQLSTATE under Drizzle', async () => {
    const error = await db
      .insert(books)
      .values({ authorId: 999_999, title: 'Orphan', pages: 1 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    const cause = (error as { cause?: { code?: string; constraint?: string } }).cause;
    expect(cause?.code).toBe('23503');
    expect(cause?.constraint).toBe('drizzle_books_author_id_fkey');
  });
});
