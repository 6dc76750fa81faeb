/**
 * The reliability record: fault, hostile-input and limit tests call `recordScenario` with what
 * they injected and what they counted; each record is written, when its test finishes, with the
 * test's outcome, as one JSON line under `test-output/reliability/`. `npm run reliability:report`
 * renders `docs/reliability.md` from those lines, so the table is what the last run measured.
 *
 * Each test file's lines go to a file of their own, started afresh by the file's first record of
 * a run: a rerun replaces what an earlier run of that file said.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, onTestFinished } from "vitest";

export type ScenarioKind = "fault" | "hostile input" | "setup" | "limit";

export interface Scenario {
  /** What happened, in a few words ("broker restart mid-stream (aedes, MQTT 3.1.1)"). */
  readonly scenario: string;
  /** The fault or input injected ("SIGKILL of the publisher mid-flush"). */
  readonly injected: string;
  /** Messages (or records, or inputs) sent. */
  readonly sent: number;
  /** Distinct ones that arrived (or were kept). */
  readonly delivered: number;
  /** Extra copies that arrived. */
  readonly duplicated: number;
  /** Sent and never arrived. */
  readonly lost: number;
  readonly notes?: string;
  /** Default `fault`. */
  readonly kind?: ScenarioKind;
}

export interface ScenarioLine extends Scenario {
  readonly kind: ScenarioKind;
  readonly file: string;
  readonly test: string;
  /** `pass` or `fail`: how the test that recorded it ended. */
  readonly outcome: string;
  readonly at: string;
}

const root = fileURLToPath(new URL("../..", import.meta.url));
export const RELIABILITY_DIR = join(root, "test-output", "reliability");
const started = new Set<string>();

/**
 * Records a scenario of the running test; written when the test finishes, with its outcome. Pass
 * a function to have the counts taken then, so that a test which fails half-way still records
 * what it saw: call it early, before the assertions.
 */
export function recordScenario(record: Scenario | (() => Scenario)): void {
  const { testPath, currentTestName } = expect.getState();
  if (!testPath) throw new Error("recordScenario: call it inside a test");
  const file = relative(root, testPath);
  if (typeof record !== "function") checkCounts(record);
  onTestFinished(({ task }) => {
    const scenario = typeof record === "function" ? record() : record;
    checkCounts(scenario);
    const line: ScenarioLine = {
      ...scenario,
      kind: scenario.kind ?? "fault",
      file,
      test: currentTestName ?? task.name,
      outcome: task.result?.state ?? "unknown",
      at: new Date().toISOString(),
    };
    mkdirSync(RELIABILITY_DIR, { recursive: true });
    const out = join(RELIABILITY_DIR, `${file.replaceAll(/[/\\]/g, "__")}.jsonl`);
    const text = `${JSON.stringify(line)}\n`;
    if (started.has(out)) appendFileSync(out, text);
    else {
      started.add(out);
      writeFileSync(out, text);
    }
  });
}

function checkCounts(scenario: Scenario): void {
  for (const key of ["sent", "delivered", "duplicated", "lost"] as const) {
    const value = scenario[key];
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`recordScenario: ${key} must be a count, got ${value}`);
    }
  }
}

/**
 * Counts deliveries from what was sent and what arrived (by id or value), so the numbers in the
 * record come from the run itself. `unexpected` counts arrivals that were never sent.
 */
export { tally } from "gmq/contract";
