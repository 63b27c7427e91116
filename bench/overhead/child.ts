/**
 * The process `bench:overhead` runs under valgrind: ONE contender runs `warmup` calls and then `calls` more, one
 * caller, then closes and exits. Two runs that differ only in `calls` differ only in the work of those extra
 * calls, so their instruction counts' difference over the calls' difference is the cost of one call, whatever
 * start-up, warm-up and shutdown cost.
 *
 * Arguments come as one JSON object in `OVERHEAD_CHILD` (see {@link ChildArgs}); it prints nothing on success.
 *
 * @packageDocumentation
 */
import { CONTENDERS, WORKLOADS, overheadContender, overheadSteps, runCalls } from './contenders.js';
import type { ChildArgs } from './valgrind.js';

const raw = process.env['OVERHEAD_CHILD'];
if (raw === undefined) throw new Error('OVERHEAD_CHILD is not set: this script is run by bench/overhead');
const args = JSON.parse(raw) as ChildArgs;
if (!CONTENDERS.includes(args.contender)) throw new Error(`unknown contender ${JSON.stringify(args.contender)}`);
if (!WORKLOADS.includes(args.workload)) throw new Error(`unknown workload ${JSON.stringify(args.workload)}`);

const contender = overheadContender(args.contender, args.url);
const steps = overheadSteps(args.workload, args.schema);
// A full collection right before and right after the counted calls (the child runs with --expose-gc): otherwise
// whether a run happens to reach a major collection, tens of millions of instructions, depends on its length,
// and one run of a pair paying for one more than the other swamps the per-call difference.
const collect = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined);
try {
  const next = await runCalls(contender, steps, 0, args.warmup);
  collect();
  await runCalls(contender, steps, next, args.calls);
  collect();
} finally {
  await contender.close();
}
