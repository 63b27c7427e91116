/**
 * The `cascade` option of the local cluster: which node each replica streams from. Resolved up front, before
 * anything is created, so a typo or a loop is an error at the call and never a replica that waits forever.
 */
import type { NodeSelector } from './types.js';

/** For each node index (0 is the primary), the index of the node it streams from; `undefined` for the primary. */
export type Upstreams = readonly (number | undefined)[];

const REPLICA_NAME = /^replica([1-9][0-9]*)$/;
const INDEX_TEXT = /^(0|[1-9][0-9]*)$/;

/** The node name for an index: `'primary'` for 0, `'replica<i>'` otherwise (as the cluster names its nodes). */
export function nodeName(index: number): string {
  return index === 0 ? 'primary' : `replica${index}`;
}

/** `selector` (an index, a name, or, for a key, an index as text) as a node index, or `undefined` if none. */
function indexOf(selector: unknown, nodes: number, keyText: boolean): number | undefined {
  let index: number | undefined;
  if (typeof selector === 'number') index = Number.isInteger(selector) ? selector : undefined;
  else if (typeof selector === 'string') {
    if (selector === 'primary') index = 0;
    else if (REPLICA_NAME.test(selector)) index = Number(REPLICA_NAME.exec(selector)?.[1]);
    else if (keyText && INDEX_TEXT.test(selector)) index = Number(selector);
  }
  return index !== undefined && index >= 0 && index < nodes ? index : undefined;
}

function describeNodes(nodes: number): string {
  return Array.from({ length: nodes }, (_, i) => `${i} or '${nodeName(i)}'`).join(', ');
}

/**
 * Resolves the cluster's `cascade` option for a cluster of `replicas` replicas: every replica streams from
 * the primary unless the option names another node, and every chain of upstreams must end at the primary.
 *
 * @throws TypeError when `cascade` is not an object of node selectors.
 * @throws RangeError naming the entry that names no node, names the primary as a streaming node, names a node as its
 *   own upstream, names one replica twice, or closes a loop.
 */
export function resolveCascade(cascade: unknown, replicas: number): Upstreams {
  const nodes = replicas + 1;
  const upstreams: (number | undefined)[] = Array.from({ length: nodes }, (_, i) => (i === 0 ? undefined : 0));
  if (cascade === undefined) return upstreams;
  if (typeof cascade !== 'object' || cascade === null || Array.isArray(cascade)) {
    throw new TypeError(
      "cascade: expected an object mapping a replica to the node it streams from, such as { replica2: 'replica1' }",
    );
  }
  const seen = new Map<number, string>();
  for (const [key, value] of Object.entries(cascade as Record<string, unknown>)) {
    const replica = indexOf(key, nodes, true);
    if (replica === undefined) {
      throw new RangeError(`cascade: key "${key}" names no node: expected one of ${describeNodes(nodes)}`);
    }
    if (replica === 0) throw new RangeError(`cascade: key "${key}" is the primary, which streams from no one`);
    const previous = seen.get(replica);
    if (previous !== undefined) {
      throw new RangeError(`cascade: "${previous}" and "${key}" both name ${nodeName(replica)}`);
    }
    seen.set(replica, key);
    if (typeof value !== 'number' && typeof value !== 'string') {
      throw new TypeError(`cascade.${key}: expected a node index or name (a NodeSelector), got ${typeof value}`);
    }
    const upstream = indexOf(value as NodeSelector, nodes, false);
    if (upstream === undefined) {
      throw new RangeError(
        `cascade.${key}: ${JSON.stringify(value)} names no node: expected one of ${describeNodes(nodes)}`,
      );
    }
    if (upstream === replica) throw new RangeError(`cascade.${key}: ${nodeName(replica)} cannot stream from itself`);
    upstreams[replica] = upstream;
  }
  for (let start = 1; start < nodes; start++) {
    const chain = [start];
    for (let at = upstreams[start]; at !== undefined; at = upstreams[at]) {
      if (chain.includes(at)) {
        const loop = [...chain.slice(chain.indexOf(at)), at].map(nodeName).join(' → ');
        throw new RangeError(`cascade: ${loop} is a loop; every chain of upstreams must end at the primary`);
      }
      chain.push(at);
    }
  }
  return upstreams;
}

/** How many hops separate node `index` from the primary (0 for the primary, 1 for a replica of it, …). */
export function depthOf(upstreams: Upstreams, index: number): number {
  let depth = 0;
  for (let at = upstreams[index]; at !== undefined; at = upstreams[at]) depth++;
  return depth;
}

/**
 * The node indices grouped by depth, the primary's group first: a node's upstream is always in an earlier group,
 * so starting the groups in turn gives every replica a running upstream (and its port) to stream from.
 */
export function levels(upstreams: Upstreams): number[][] {
  const groups: number[][] = [];
  upstreams.forEach((_, index) => (groups[depthOf(upstreams, index)] ??= []).push(index));
  return groups;
}
