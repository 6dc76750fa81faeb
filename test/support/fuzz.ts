/**
 * Property-based fuzzing with fast-check, reproducible: every suite runs from one fixed seed
 * (GMQ_FUZZ_SEED overrides it) for a bounded number of runs (GMQ_FUZZ_RUNS scales them, for a
 * longer campaign), and a failure prints the seed and the command that replays it.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { recordScenario } from "./reliability.js";

export const FUZZ_SEED = Number(process.env.GMQ_FUZZ_SEED ?? 20_261_201);
const SCALE = Number(process.env.GMQ_FUZZ_RUNS ?? 1);

function parameters(runs: number): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * SCALE)) };
}

function replayHint(error: unknown): never {
  const file = expect.getState().testPath ?? "<test file>";
  const message = error instanceof Error ? error.message : String(error);
  throw new Error(
    `${message}\n\nFuzz seed ${FUZZ_SEED}; replay with: GMQ_FUZZ_SEED=${FUZZ_SEED} npx vitest run ${file}`,
    {
      cause: error,
    },
  );
}

/** Runs a synchronous property `runs` times from the fixed seed. */
export function fuzz<Ts extends [unknown, ...unknown[]]>(
  runs: number,
  ...args: [
    ...arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
    // biome-ignore lint/suspicious/noConfusingVoidType: fast-check's own predicate type
    predicate: (...values: Ts) => boolean | void,
  ]
): void {
  try {
    fc.assert(fc.property(...args), parameters(runs) as fc.Parameters<Ts>);
  } catch (error) {
    replayHint(error);
  }
}

/** Runs an asynchronous property `runs` times from the fixed seed. */
export async function fuzzAsync<Ts extends [unknown, ...unknown[]]>(
  runs: number,
  ...args: [
    ...arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
    // biome-ignore lint/suspicious/noConfusingVoidType: fast-check's own predicate type
    predicate: (...values: Ts) => Promise<boolean | void>,
  ]
): Promise<void> {
  try {
    await fc.assert(fc.asyncProperty(...args), parameters(runs) as fc.Parameters<Ts>);
  } catch (error) {
    replayHint(error);
  }
}

/** Tallies what a fuzzed decoder did with its inputs, for the reliability report. */
export class FuzzTally {
  inputs = 0;
  accepted = 0;
  rejected = 0;
  roundTrips = 0;

  record(decoder: string, what: string, rejectedAs: string): void {
    recordScenario({
      scenario: `fuzz: ${decoder}`,
      injected: `${this.inputs.toLocaleString("en-US")} generated inputs: ${what} (seed ${FUZZ_SEED})`,
      kind: "hostile input",
      // For a decoder, "delivered" is an input it answered properly (decoded, or rejected as it
      // should be) and "lost" one it crashed on: any such input fails the test.
      sent: this.inputs,
      delivered: this.accepted + this.rejected,
      duplicated: 0,
      lost: this.inputs - this.accepted - this.rejected,
      notes:
        `${this.accepted.toLocaleString("en-US")} decoded` +
        (this.rejected > 0 ? `, ${this.rejected.toLocaleString("en-US")} rejected as ${rejectedAs}` : "") +
        (this.roundTrips > 0
          ? `; ${this.roundTrips.toLocaleString("en-US")} encoder round trips exact`
          : "") +
        "; no crash, hang or other error",
    });
  }
}
