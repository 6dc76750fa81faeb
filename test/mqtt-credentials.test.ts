/**
 * Username and password reach the broker in every documented form: a string, a Uint8Array (any
 * bytes, not only UTF-8), from options or from `credentials()`. A Uint8Array used to make mqtt.js
 * drop the socket before CONNECT, reported as "the broker closed the connection" and, with
 * protocol "auto", as a broker that "speaks only MQTT 3.1.1". Against aedes (an authenticate hook
 * that compares bytes) and Mosquitto (a password file).
 */
import { type Client, createClient, GmqError } from "gmq";
import { afterEach, describe, expect, it } from "vitest";
import { MqttConnection } from "../adapters/mqtt/connection.js";
import { type MqttOptions, mqtt } from "../adapters/mqtt/index.js";
import { hasTcp, resolveOptions } from "../adapters/mqtt/options.js";
import { type EmbeddedBroker, startBroker } from "../adapters/testing/broker.js";
import {
  mosquittoBinary,
  mosquittoPasswdBinary,
  type SystemServer,
  startMosquitto,
} from "./support/mqtt-servers.js";
import { recordScenario, tally } from "./support/reliability.js";

/** Not valid UTF-8 (0xfe, 0xff never are), with a NUL in it. */
const BINARY = new Uint8Array([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x41]);
const UTF8 = new TextEncoder().encode("pässwörd 🔑");

const clients: Client[] = [];
const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function client(options: MqttOptions): Client {
  const c = createClient({ transport: mqtt(options), reconnect: false });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

/** Connects, then proves the session works with a publish/subscribe round trip. */
async function roundTrip(c: Client): Promise<void> {
  const got: string[] = [];
  recordScenario(() => ({
    scenario: `credentials: ${expect.getState().currentTestName?.split(" > ").join(", ")}`,
    injected: "connect, subscribe, publish one QoS 1 message",
    kind: "setup",
    ...tally(["hello"], got),
  }));
  await c.connect({ timeoutMs: 5_000 });
  const topic = `creds/${Math.random().toString(36).slice(2)}`;
  const sub = c.subscribe<string>(topic, (m) => {
    got.push(m.data);
  });
  await sub.ready;
  await c.publish(topic, "hello", { qos: 1 });
  await expect.poll(() => got, { timeout: 5_000 }).toEqual(["hello"]);
}

/** Connects, expecting a failure; records what the client reported. */
const failure = async (c: Client) => {
  const error = await c.connect({ timeoutMs: 5_000 }).then(
    () => undefined,
    (e: unknown) => e as GmqError,
  );
  recordScenario({
    scenario: `credentials: ${expect.getState().currentTestName?.split(" > ").join(", ")}`,
    injected: "one connect",
    kind: "setup",
    sent: 0,
    delivered: 0,
    duplicated: 0,
    lost: 0,
    notes: error ? `fails: ${error.code}${error.reason ? ` / ${error.reason}` : ""}` : "**connected**",
  });
  return error;
};

describe("binary passwords (aedes, an authenticate hook comparing bytes)", () => {
  let broker: EmbeddedBroker;
  const seen: Buffer[] = [];
  const start = async () => {
    broker = await startBroker({
      aedes: {
        authenticate: (_client, username, password, done) => {
          if (password) seen.push(Buffer.from(password));
          const ok = username === "bin" && password !== undefined && Buffer.from(BINARY).equals(password);
          done(null, ok);
        },
      },
    });
    servers.push(broker);
  };

  for (const protocolVersion of [4, "auto"] as const) {
    it(`a Uint8Array password connects (protocol ${protocolVersion})`, async () => {
      await start();
      await roundTrip(
        client({ url: broker.tcpUrl, protocolVersion, envelope: true, username: "bin", password: BINARY }),
      );
      expect(seen.at(-1)).toEqual(Buffer.from(BINARY));
    });
  }

  it("from credentials(), over WebSocket too", async () => {
    await start();
    await roundTrip(
      client({
        url: broker.wsUrl,
        protocolVersion: 4,
        envelope: true,
        credentials: async () => ({ username: "bin", password: BINARY.slice() }),
      }),
    );
  });

  it("a wrong one is refused as `unauthenticated`, not as a broker that hung up", async () => {
    await start();
    const error = await failure(
      client({ url: broker.tcpUrl, protocolVersion: 4, envelope: true, username: "bin", password: UTF8 }),
    );
    expect(error).toBeInstanceOf(GmqError);
    expect(error).toMatchObject({ code: "unauthenticated", reason: "NOT_AUTHORIZED" });
  });
});

describe("credentials that cannot be sent fail at once, naming the field", () => {
  it("a password without a username, or of the wrong type", () => {
    const field = (options: Partial<MqttOptions>) => {
      try {
        mqtt({ url: "mqtt://127.0.0.1:1", ...options });
        return "accepted";
      } catch (error) {
        return `${(error as GmqError).code}:${(error as GmqError).field}`;
      }
    };
    expect(field({ password: "secret" })).toBe("invalid_argument:password");
    expect(field({ password: BINARY })).toBe("invalid_argument:password");
    expect(field({ username: "u", password: 42 as never })).toBe("invalid_argument:password");
    expect(field({ username: 42 as never })).toBe("invalid_argument:username");
    expect(field({ username: "", password: BINARY })).toBe("accepted");
  });

  it("from credentials(): the connect fails with invalid_argument", async () => {
    const c = client({ url: "mqtt://127.0.0.1:1", credentials: () => ({ password: "no user" }) });
    expect(await failure(c)).toMatchObject({ code: "invalid_argument", field: "password" });
  });

  it("a packet mqtt.js refuses to write is reported as such, not as the broker closing", async () => {
    // Straight to the connection, bypassing the conversion: mqtt.js refuses a plain Uint8Array.
    const broker = await startBroker();
    servers.push(broker);
    const error = await MqttConnection.open({
      url: broker.tcpUrl,
      version: 4,
      options: resolveOptions({ url: broker.tcpUrl }, { hasTcp }),
      credentials: { username: "u", password: BINARY },
      signal: new AbortController().signal,
      needsAck: () => false,
      sink: { onMessage() {}, onError() {}, onDisconnect() {} },
      closed() {},
      platform: {},
    }).then(
      () => undefined,
      (e: unknown) => e as GmqError,
    );
    expect(error).toMatchObject({ code: "invalid_argument" });
    expect(error?.message).toContain("could not write the CONNECT packet: Invalid password");
    expect(error?.reason).not.toBe("CLOSED_BEFORE_CONNACK");
  });
});

describe.skipIf(!mosquittoBinary.available || !mosquittoPasswdBinary.available)(
  "Mosquitto with a password file",
  () => {
    let server: SystemServer;
    const start = async () => {
      server = await startMosquitto({ users: { alice: new TextDecoder().decode(UTF8) } });
      servers.push(server);
    };

    for (const protocolVersion of ["auto", 5, 4] as const) {
      it(`a Uint8Array password connects (protocol ${protocolVersion})`, async () => {
        await start();
        await roundTrip(
          client({
            url: server.tcpUrl,
            protocolVersion,
            envelope: protocolVersion === 4,
            username: "alice",
            password: UTF8,
          }),
        );
      });
    }

    it("over WebSocket, from credentials()", async () => {
      await start();
      await roundTrip(
        client({ url: server.wsUrl!, credentials: () => ({ username: "alice", password: UTF8 }) }),
      );
    });

    it("a wrong one is `unauthenticated` under protocol auto, never 'speaks only MQTT 3.1.1'", async () => {
      await start();
      const error = await failure(client({ url: server.tcpUrl, username: "alice", password: BINARY }));
      expect(error).toMatchObject({ code: "unauthenticated" });
      expect(error?.message).not.toContain("3.1.1");
    });
  },
);
