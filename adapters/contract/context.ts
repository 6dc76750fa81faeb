/** What every section of the transport contract suite shares. */
import {
  type Client,
  type ClientOptions,
  createClient,
  type Transport,
  type TransportCapabilities,
} from "gmq";

export interface TransportHarness {
  /** A new transport to the backend under test (not yet connected). */
  transport(): Transport;
  /** Drop every client connection at the backend; clients should reconnect by themselves. */
  dropConnections?(): Promise<void> | void;
  /** Make the backend unreachable (false) or reachable again (true). */
  setOnline?(online: boolean): Promise<void> | void;
  /** End every open stream at the backend (they should be restarted). */
  endStreams?(): Promise<void> | void;
  /** What the backend accepted on `topic`, decoded, in the order it accepted them. */
  received?(topic: string): Promise<unknown[]> | unknown[];
  teardown?(): Promise<void> | void;
}

export interface ContractOptions {
  capabilities: TransportCapabilities;
  setup(): Promise<TransportHarness>;
  /** Which fault injections the harness implements (their tests run only then). */
  faults?: { dropConnections?: boolean; setOnline?: boolean; endStreams?: boolean };
  /** `inbound: "stream"` whose streams are topic subscriptions: every publish reaches each
   *  matching one, with wildcards and queue groups as on a routed transport (e.g. the gmq hub).
   *  The publish/subscribe section then runs too. */
  topicStreams?: boolean;
  /** The backend tells a requester that nobody listens (e.g. MQTT 5, memory). */
  reportsNoResponder?: boolean;
  /** Names this backend accepts, where the MQTT-style defaults (`a`, `Svc`, `m`) are not valid. */
  names?: { topic?: string; service?: string; method?: string };
  /** For transports that cannot serve calls: a backend method that returns its args as they are. */
  echo?: { service: string; method: string };
  /** For transports that cannot serve calls: a backend method that answers after several seconds. */
  slow?: { service: string; method: string };
  /**
   * A method the transport accepts but no one serves at the backend. Default `Nobody` /
   * `HD_nothing<n>`; transports that only take names they know (e.g. registered gRPC services)
   * name one here.
   */
  nobody?: { service: string; method: string };
  /**
   * For `inbound: "stream"`: a stream and how to make the backend send on it. `feed(values)` makes
   * it deliver each value (JSON) once, in order, to the stream `pattern` opened with `args` (for a
   * queue, publish them; for a server stream, whatever its backend needs).
   */
  stream?: { pattern: string; args?: unknown; feed(values: readonly unknown[]): Promise<void> };
  /**
   * Told, when a fault test finishes, what it injected and counted (sent, delivered, duplicated,
   * lost): for a reliability report. The function is called with a thunk to run at the end.
   */
  onScenario?(scenario: () => ContractScenario): void;
}

/** What a fault test injected and counted. */
export interface ContractScenario {
  readonly scenario: string;
  readonly injected: string;
  readonly sent: number;
  readonly delivered: number;
  readonly duplicated: number;
  readonly lost: number;
}

/** Counts what arrived against what was sent: distinct deliveries, extra copies, losses. */
export function tally<T>(
  sent: Iterable<T>,
  received: Iterable<T>,
): { sent: number; delivered: number; duplicated: number; lost: number; unexpected: number } {
  const expected = new Set(sent);
  const seen = new Set<T>();
  let duplicated = 0;
  let unexpected = 0;
  for (const item of received) {
    if (!expected.has(item)) unexpected++;
    else if (seen.has(item)) duplicated++;
    else seen.add(item);
  }
  return {
    sent: expected.size,
    delivered: seen.size,
    duplicated,
    lost: expected.size - seen.size,
    unexpected,
  };
}

export interface ContractContext {
  /** The suite's name, e.g. `mqtt over aedes`. */
  readonly name: string;
  readonly caps: TransportCapabilities;
  readonly options: ContractOptions;
  readonly harness: TransportHarness;
  /** A client on a new transport, closed after the test. */
  client(extra?: Partial<ClientOptions>): Client;
}

let counter = 0;
const run = Math.random().toString(36).slice(2, 8);

export function nextCounter(): number {
  return ++counter;
}

/** A topic no other test (or run) uses. */
export function uniqueTopic(base: string): string {
  return `gmq-contract/${base}/${run}-${Date.now()}-${nextCounter()}`;
}

/** A name unique to this run, for services and queues. */
export function uniqueName(base: string): string {
  return `${base}${run}${nextCounter()}`;
}

export function waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(check, 10);
    };
    check();
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Makes clients for a suite and closes them after each test. */
export function clientFactory(getHarness: () => TransportHarness) {
  const clients: Client[] = [];
  return {
    client(extra: Partial<ClientOptions> = {}): Client {
      const c = createClient({
        transport: getHarness().transport(),
        reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        ...extra,
      });
      c.on("error", () => {}); // asserted where it matters
      clients.push(c);
      return c;
    },
    async closeAll(): Promise<void> {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    },
  };
}
