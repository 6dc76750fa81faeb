/**
 * In-process gmq node ("gnode") emulator for tests (Node only): the HTTP API and TCP protocol of
 * gnode 2.0 as described in `gmq-gnode.md`, quirks included, with an injectable clock.
 *
 * @example
 * ```ts
 * const clock = createManualClock();
 * const node = await startGnode({ clock, scanIntervalMs: 0, msgTTR: 5 });
 * await fetch(`${node.httpUrl}/declareQueue?topic=orders&bindKey=created`);
 * // … push, pop with manual ack, then let the TTR run out:
 * clock.advance(5_000);
 * node.scan(); // redelivers with retry_count + 1
 * expect(node.incidents).toEqual([]);
 * await node.close();
 * ```
 */

export type { GnodeIncident, GnodeIncidentKind } from "./broker.js";
export {
  type GnodeEmulator,
  type GnodeOptions,
  type GnodeQueueInfo,
  type GnodeRestartOptions,
  type GnodeTopicInfo,
  startGnode,
} from "./gnode.js";
export { idTimeMs, SNOWFLAKE_EPOCH_MS } from "./snowflake.js";
