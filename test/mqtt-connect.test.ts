/**
 * Connecting: option validation, version negotiation (remembered per URL), credentials at every
 * connect, refused CONNACK/SUBACK mapped into GmqError, and failover across a URL list.
 */

import { type Client, createClient, GmqError } from "gmq";
import { waitFor } from "gmq/contract";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type MqttOptions, mqtt } from "../adapters/mqtt/index.js";
import { type BrokerOptions, type EmbeddedBroker, startBroker } from "../adapters/testing/broker.js";

const brokers: EmbeddedBroker[] = [];
const clients: Client[] = [];
const broker = async (options?: BrokerOptions) => {
  const b = await startBroker(options);
  brokers.push(b);
  return b;
};
const client = (options: MqttOptions) => {
  const c = createClient({ transport: mqtt(options), reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  clients.push(c);
  return c;
};
/** Whether `clientId` is connected to `b` right now (aedes keeps its client table untyped). */
const isOn = (b: EmbeddedBroker, clientId: string) =>
  (b.aedes as unknown as { clients: Record<string, { closed: boolean }> }).clients[clientId]?.closed ===
  false;
/** Resolves at the client's next transition to connected. */
const reconnected = (c: Client) =>
  new Promise<void>((resolve) => c.on("state", (change) => change.to === "connected" && resolve()));
const nextError = (c: Client) => new Promise<GmqError>((resolve) => c.once("error", resolve));

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

describe("mqtt options", () => {
  const fieldOf = (options: unknown) => {
    try {
      mqtt(options as MqttOptions);
    } catch (error) {
      expect(error).toBeInstanceOf(GmqError);
      return `${(error as GmqError).code}:${(error as GmqError).field}`;
    }
    return "accepted";
  };

  it("rejects bad options naming the field", () => {
    expect(fieldOf({ url: [] })).toBe("invalid_argument:url");
    expect(fieldOf({ url: "http://x" })).toBe("invalid_argument:url");
    expect(fieldOf({ url: "not a url" })).toBe("invalid_argument:url");
    expect(fieldOf({ url: "mqtt://x", protocolVersion: 3 })).toBe("invalid_argument:protocolVersion");
    expect(fieldOf({ url: "mqtt://x", keepalive: -1 })).toBe("invalid_argument:keepalive");
    expect(fieldOf({ url: "mqtt://x", sessionExpiryInterval: 2 ** 32 })).toBe(
      "invalid_argument:sessionExpiryInterval",
    );
    expect(fieldOf({ url: "mqtt://x", credentials: "secret" })).toBe("invalid_argument:credentials");
    expect(fieldOf({ url: ["mqtt://a", "wss://b/mqtt"] })).toBe("accepted");
  });

  it("refuses TCP URLs where there is no TCP (a browser)", () => {
    vi.stubGlobal("process", { versions: {} });
    try {
      expect(fieldOf({ url: "mqtts://broker:8883" })).toBe("unsupported:url");
      expect(fieldOf({ url: "wss://broker/mqtt" })).toBe("accepted");
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("reports headers only when they can travel", () => {
    expect(mqtt({ url: "mqtt://x" }).capabilities.headers).toBe(true);
    expect(mqtt({ url: "mqtt://x", protocolVersion: 4 }).capabilities.headers).toBe(false);
    expect(mqtt({ url: "mqtt://x", protocolVersion: 4, envelope: true }).capabilities.headers).toBe(true);
    expect(mqtt({ url: "mqtt://x", sharedSubscriptions: false }).capabilities.queues).toBe(false);
  });
});

describe("mqtt connect", () => {
  it("falls back from MQTT 5 to 3.1.1 once per URL and remembers it", async () => {
    const versions: number[] = [];
    const b = await broker({
      aedes: {
        preConnect: (_client, packet, done) => {
          versions.push(packet.protocolVersion ?? 0);
          done(null, true);
        },
      },
    });
    const c = client({ url: b.tcpUrl, envelope: true });
    await c.connect();
    expect(versions).toEqual([5, 4]);
    const back = reconnected(c);
    b.dropConnections();
    await back;
    expect(versions).toEqual([5, 4, 4]);
  });

  it("without the envelope, refuses a 3.1.1-only broker with `unsupported` instead of dropping headers", async () => {
    const b = await broker();
    const c = client({ url: b.tcpUrl });
    const error = await nextError(c);
    expect(error.code).toBe("unsupported");
    expect(error.message).toContain("envelope");
    // Plain 3.1.1 without headers is a choice the app makes explicitly.
    const plain = client({ url: b.tcpUrl, protocolVersion: 4 });
    await plain.connect();
    expect(plain.transport.capabilities.headers).toBe(false);
    await expect(plain.publish("plain/topic", 1, { headers: { a: "b" } })).rejects.toMatchObject({
      code: "unsupported",
    });
  });

  it("asks for credentials at every connect, and maps a refusal to `unauthenticated`", async () => {
    const tokens = ["t1", "t2", "t3"];
    let calls = 0;
    const seen: string[] = [];
    const b = await broker({
      aedes: {
        authenticate: (_client, username, password, done) => {
          seen.push(`${username}:${password?.toString()}`);
          if (password?.toString() === "t2") {
            done(Object.assign(new Error("bad"), { returnCode: 4 as const }), null);
          } else done(null, true);
        },
      },
    });
    const c = client({
      url: b.tcpUrl,
      protocolVersion: 4,
      envelope: true,
      username: "app",
      credentials: async () => ({ password: tokens[calls++]! }),
    });
    await c.connect();
    const refused = nextError(c);
    const back = reconnected(c);
    b.dropConnections();
    const error = await refused;
    expect(error.code).toBe("unauthenticated");
    expect(error.reason).toBe("BAD_USERNAME_OR_PASSWORD");
    await back;
    expect(seen).toEqual(["app:t1", "app:t2", "app:t3"]);
  });

  it("a failing credentials() is `unauthenticated` and retried", async () => {
    const b = await broker();
    let calls = 0;
    const c = client({
      url: b.tcpUrl,
      protocolVersion: 4,
      envelope: true,
      credentials: async () => {
        if (++calls === 1) throw new Error("token service down");
        return { username: "u" };
      },
    });
    const error = await nextError(c);
    expect(error.code).toBe("unauthenticated");
    expect(error.message).toContain("token service down");
    await c.connect();
  });

  it("maps a refused SUBACK into GmqError on the subscription", async () => {
    const b = await broker({
      aedes: {
        // A null subscription is aedes' way to refuse one filter (SUBACK 0x80) without dropping the client.
        authorizeSubscribe: (_client, sub, done) => done(null, sub.topic.startsWith("secret/") ? null : sub),
      },
    });
    const c = client({ url: b.tcpUrl, envelope: true });
    c.on("error", () => {});
    const failure = await c.subscribe("secret/+", () => {}).ready.catch((e: GmqError) => e);
    expect(failure).toBeInstanceOf(GmqError);
    expect((failure as GmqError).code).toBe("remote");
    expect((failure as GmqError).reason).toBe("UNSPECIFIED_ERROR");
    await c.subscribe("public/+", () => {}).ready;
  });

  it("fails over to the second URL when the first broker is stopped, and stays there", async () => {
    const first = await broker();
    const second = await broker();
    const clientId = `gmq_failover_${process.pid}`;
    const c = client({
      url: [first.tcpUrl, second.tcpUrl],
      clientId,
      envelope: true,
      sharedSubscriptions: false,
    });
    c.on("error", () => {});
    await c.connect();
    expect(isOn(first, clientId)).toBe(true);

    const moved = reconnected(c);
    await first.stop();
    await moved;
    expect(isOn(second, clientId)).toBe(true);
    const got: number[] = [];
    await c.subscribe<number>("failover/t", (m) => {
      got.push(m.data);
    }).ready;
    await c.publish("failover/t", 42);
    await waitFor(() => got.includes(42), 5_000, "a message through the second broker");

    // The first is back, but the URL that works is kept.
    await first.restart();
    const back = reconnected(c);
    second.dropConnections();
    await back;
    expect(isOn(second, clientId)).toBe(true);
    expect(isOn(first, clientId)).toBe(false);
  });
});
