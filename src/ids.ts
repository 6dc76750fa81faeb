/**
 * Message ids: fixed-width strings that sort in creation order within one client (time, then a
 * sequence number, even if the clock steps back) and are unique across clients (a random
 * producer part). The outbox relies on the ordering: sorting records by id is enqueue order.
 *
 *   id = time (9 base36: ms since epoch) + seq (7 base36) + producer (8 random base36)
 *
 * `seq` counts up from 1 for each producer (each client instance), so `(producer, seq)` is what a
 * backend with exactly-once publishing needs (a high-water mark per producer), and it travels
 * inside the id: a record retried after a reload keeps both.
 */
const TIME_WIDTH = 9; // base36 ms since epoch: enough until the year 5188
const SEQ_WIDTH = 7; // 78 billion ids per client instance
const PRODUCER_WIDTH = 8;
const ID_LENGTH = TIME_WIDTH + SEQ_WIDTH + PRODUCER_WIDTH;
const MAX_SEQ = 36 ** SEQ_WIDTH - 1;

export function randomToken(length: number): string {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  let out = "";
  for (const byte of bytes) out += (byte % 36).toString(36);
  return out;
}

export function createIdGenerator(producer: string = randomToken(PRODUCER_WIDTH)): () => string {
  let lastTime = 0;
  let timePart = "";
  let seq = 0;
  return () => {
    const now = Date.now();
    // Many ids share a millisecond: format its part once. A clock that steps back keeps the last.
    if (now > lastTime) {
      lastTime = now;
      timePart = lastTime.toString(36).padStart(TIME_WIDTH, "0");
    }
    if (++seq > MAX_SEQ) throw new Error("id generator exhausted: create a new client");
    return timePart + seq.toString(36).padStart(SEQ_WIDTH, "0") + producer;
  };
}

/**
 * The producer and its sequence number inside a gmq message id, for backends that drop what a
 * producer already sent (`seq` rises strictly per producer, with gaps). Undefined for ids gmq did
 * not make.
 */
export function messageSequence(id: string): { producer: string; seq: number } | undefined {
  if (id.length !== ID_LENGTH || !/^[0-9a-z]+$/.test(id)) return undefined;
  const seq = Number.parseInt(id.slice(TIME_WIDTH, TIME_WIDTH + SEQ_WIDTH), 36);
  return seq > 0 ? { producer: id.slice(TIME_WIDTH + SEQ_WIDTH), seq } : undefined;
}
