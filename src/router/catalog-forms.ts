import { LRUCache } from 'lru-cache';

/** Tables may be altered at any time, so answers expire; a form whose statement failed is also forgotten at once. */
const TTL_MS = 60_000;
/** Cached for a template that has no form. */
const NONE = Object.freeze({ none: true } as const);

/**
 * Forms of merged statements (unnest INSERT, COPY, merged UPDATE/DELETE) built from what the catalog says of a
 * template's table, cached per template for a minute; one look-up at a time per template. A subclass says how a
 * template is keyed and builds its form.
 */
export abstract class CatalogForms<T, F extends object> {
  private readonly forms = new LRUCache<string, F | typeof NONE>({ max: 1_000, ttl: TTL_MS, ttlAutopurge: false });
  private readonly pending = new Map<string, Promise<F | undefined>>();
  /** Catalog look-ups made so far. */
  lookups = 0;

  /** The cache key of `template`, or `undefined` when it can have no form (nothing is looked up). */
  protected abstract keyOf(template: T): string | undefined;

  /**
   * Looks `template`'s table up: its form, `null` when it has none (remembered), or `undefined` when the catalog
   * could not be read (the node may be down, the table not created yet: asked again next time). Never rejects.
   */
  protected abstract build(template: T): Promise<F | null | undefined>;

  /** The form of `template`, looked up once; `undefined` when it has none. Never rejects. */
  get(template: T): Promise<F | undefined> {
    const key = this.keyOf(template);
    if (key === undefined) return Promise.resolve(undefined);
    const known = this.forms.get(key);
    if (known !== undefined) return Promise.resolve(known === NONE ? undefined : (known as F));
    let inFlight = this.pending.get(key);
    if (inFlight === undefined) {
      inFlight = this.load(template, key).finally(() => this.pending.delete(key));
      this.pending.set(key, inFlight);
    }
    return inFlight;
  }

  /** Forgets the form of `template` (its statement failed in a way a changed table would explain). */
  forget(template: T): void {
    const key = this.keyOf(template);
    if (key !== undefined) this.forms.delete(key);
  }

  /** Forgets every form (the schema may have changed): each is read from the catalog again at its next use. */
  clear(): void {
    this.forms.clear();
  }

  private async load(template: T, key: string): Promise<F | undefined> {
    this.lookups++;
    const form = await this.build(template);
    if (form === undefined) return undefined;
    this.forms.set(key, form ?? NONE);
    return form ?? undefined;
  }
}
