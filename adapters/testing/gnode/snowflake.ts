/**
 * gnode message ids (spec §1): `((unix_ms − 2017-01-01) << 22) | (node_id << 12) | seq`, a uint64
 * that is always above 2^53, so it is built and printed with BigInt only, never a JS number.
 */

import type { TestClock } from "../clock.js";

export const SNOWFLAKE_EPOCH_MS = 1483228800000;
const SEQUENCE_MASK = 0xfff;
export const MAX_NODE_ID = 1023;

/** The push time (ms) encoded in an id. */
export function idTimeMs(id: bigint | string): number {
  return Number((BigInt(id) >> 22n) + BigInt(SNOWFLAKE_EPOCH_MS));
}

export class Snowflake {
  #lastMs = 0;
  #sequence = 0;
  readonly #node: bigint;

  constructor(
    nodeId: number,
    private readonly clock: TestClock,
  ) {
    this.#node = BigInt(nodeId) << 12n;
  }

  /**
   * Like upstream, except that time never runs backwards and a full millisecond moves on to the
   * next one instead of spinning (a manual clock would never get there): ids strictly increase.
   */
  next(): bigint {
    let ms = Math.max(Math.floor(this.clock.now()), this.#lastMs);
    if (ms === this.#lastMs) {
      this.#sequence = (this.#sequence + 1) & SEQUENCE_MASK;
      if (this.#sequence === 0) ms += 1;
    } else {
      this.#sequence = 0;
    }
    this.#lastMs = ms;
    return (BigInt(ms - SNOWFLAKE_EPOCH_MS) << 22n) | this.#node | BigInt(this.#sequence);
  }
}
