/**
 * Contract harnesses for the gnode adapters: one emulator behind a TCP forwarder (offline = the
 * forwarder refuses connections; streams end = the node restarts), fed and read with raw HTTP.
 */
import type { TransportHarness } from "gmq/contract";
import { type GnodeEmulator, startGnode } from "../../adapters/testing/index.js";
import { popNow, pushOk } from "./gnode-wire.js";
import { startTcpForwarder, type TcpForwarder } from "./tcp-forwarder.js";

/** The payload a gmq envelope (or a raw body) carries, as JSON. */
export function bodyValue(body: string): unknown {
  const text = body.startsWith('{"gmq":1,') ? (JSON.parse(body) as { t: string }).t : body;
  return JSON.parse(text);
}

/** Reads (and acks) every unread message of `topic`'s `default` queue. */
export async function drain(node: GnodeEmulator, topic: string, bindKey = "default"): Promise<unknown[]> {
  const values: unknown[] = [];
  const unread = node.topic(topic)?.queues[bindKey]?.unread ?? 0;
  for (let i = 0; i < unread; i++) {
    const d = await popNow(node, topic, bindKey);
    values.push(bodyValue(d.body));
    await fetch(`${node.httpUrl}/ack?${new URLSearchParams({ msgId: d.id, topic, bindKey })}`);
  }
  return values;
}

/** Pushes each value as a plain JSON body (another producer, no gmq envelope) to `default`. */
export async function feed(node: GnodeEmulator, topic: string, values: readonly unknown[]): Promise<void> {
  for (const value of values) await pushOk(node, topic, "", JSON.stringify(value));
}

export interface GnodeContractSetup {
  node: GnodeEmulator;
  http: TcpForwarder;
  tcp: TcpForwarder;
}

/** The node and its forwarders, for `runTransportContract`'s `setup`. */
export async function contractNode(
  transport: (s: GnodeContractSetup) => TransportHarness["transport"],
  started: (s: GnodeContractSetup) => void,
): Promise<TransportHarness> {
  const node = await startGnode({ msgTTR: 60 });
  const [http, tcp] = await Promise.all([startTcpForwarder(node.httpPort), startTcpForwarder(node.tcpPort)]);
  const setup = { node, http, tcp };
  started(setup);
  return {
    transport: transport(setup),
    setOnline: (online) => {
      http.setOnline(online);
      tcp.setOnline(online);
    },
    endStreams: () => node.restart({ graceful: true }),
    received: (topic) => drain(node, topic),
    teardown: async () => {
      await Promise.all([http.close(), tcp.close()]);
      await node.close();
    },
  };
}
