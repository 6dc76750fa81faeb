/**
 * Message ids: fixed-width strings that sort in creation order within one client (time, then a
 * counter, even if the clock steps back) and are unique across clients (a random instance part).
 * The outbox relies on the ordering: sorting records by id is enqueue order.
 */
const TIME_WIDTH = 9; // base36 ms since epoch: enough until the year 5188
const COUNTER_WIDTH = 4; // 1.6M ids per millisecond

export function randomToken(length: number): string {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  let out = "";
  for (const byte of bytes) out += (byte % 36).toString(36);
  return out;
}

export function createIdGenerator(instance: string = randomToken(8)): () => string {
  let lastTime = 0;
  let counter = 0;
  let timePart = "";
  return () => {
    const now = Date.now();
    if (now > lastTime) {
      lastTime = now;
      counter = 0;
      timePart = "";
    } else if (++counter >= 36 ** COUNTER_WIDTH) {
      lastTime += 1;
      counter = 0;
      timePart = "";
    }
    // Many ids share a millisecond: format its part once.
    if (timePart === "") timePart = lastTime.toString(36).padStart(TIME_WIDTH, "0");
    return timePart + counter.toString(36).padStart(COUNTER_WIDTH, "0") + instance;
  };
}
