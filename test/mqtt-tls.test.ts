/**
 * TLS in Node against Mosquitto, with a CA the test makes (openssl): `mqtts://` and `wss://`.
 * The right CA connects and carries messages; every certificate failure (an unknown CA, with or
 * without the chain, a certificate for another name, an expired one) fails the connect at once
 * with GmqError `tls`, Node's code as `reason`, a message saying what to do, and the original
 * error as `cause`.
 */
import { type Client, createClient, GmqError, type StateChange, type TransportSink } from "gmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tlsError } from "../adapters/mqtt/errors.js";
import { type MqttOptions, mqtt } from "../adapters/mqtt/index.js";
import { mosquittoBinary, type SystemServer, startMosquitto } from "./support/mqtt-servers.js";
import { recordScenario, tally } from "./support/reliability.js";
import { createTestPki, opensslBinary, type TestPki } from "./support/tls.js";

describe.skipIf(!mosquittoBinary.available || !opensslBinary.available)("mqtt over TLS (Mosquitto)", () => {
  let pki: TestPki;
  let server: SystemServer;
  let urls: Readonly<Record<string, string>>;

  beforeAll(async () => {
    pki = createTestPki();
    server = await startMosquitto({
      tls: {
        mqtts: pki.broker,
        wss: { ...pki.broker, websockets: true },
        chain: pki.brokerWithChain,
        wrongName: pki.wrongName,
        expired: pki.expired,
      },
    });
    urls = server.tlsUrls!;
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    pki?.remove();
  });

  /** One connect of the transport itself: no client, no retries. */
  async function connectOnce(options: MqttOptions): Promise<GmqError | undefined> {
    const transport = mqtt(options);
    const sink: TransportSink = { onMessage() {}, onError() {}, onDisconnect() {} };
    try {
      await transport.connect!(sink, { signal: AbortSignal.timeout(10_000) });
      await transport.disconnect();
      return undefined;
    } catch (error) {
      return error as GmqError;
    }
  }

  /** A connect that must fail: nothing can be sent, and the row says what the client reported. */
  const recordTlsFailure = (scenario: string, error: GmqError | undefined) =>
    recordScenario({
      scenario,
      injected: "one connect of the transport",
      kind: "setup",
      sent: 0,
      delivered: 0,
      duplicated: 0,
      lost: 0,
      notes: error ? `fails at once: ${error.code} / ${error.reason}` : "**connected**",
    });

  for (const via of ["mqtts", "wss"] as const) {
    it(`the right CA connects, and messages go through (${via})`, async () => {
      const clients: Client[] = [];
      try {
        const make = () => {
          const c = createClient({ transport: mqtt({ url: urls[via]!, ca: pki.ca }), reconnect: false });
          clients.push(c);
          return c;
        };
        const [rx, tx] = [make(), make()];
        const got: number[] = [];
        const sub = rx.subscribe<number>("tls/test", (m) => {
          got.push(m.data);
        });
        await sub.ready;
        const sent = Array.from({ length: 20 }, (_, i) => i);
        for (const i of sent) await tx.publish("tls/test", i, { qos: 1 });
        await expect.poll(() => got.length, { timeout: 5_000 }).toBe(sent.length);
        expect(got).toEqual(sent);
        recordScenario({
          scenario: `TLS (${via}): the broker's CA passed as \`ca\` (control)`,
          injected: "none: a CA made by the test signs the broker's certificate",
          kind: "setup",
          ...tally(sent, got),
        });
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    });

    it(`a wrong CA fails at once: code tls, reason UNABLE_TO_VERIFY_LEAF_SIGNATURE (${via})`, async () => {
      const error = await connectOnce({ url: urls[via]!, ca: pki.otherCa });
      recordTlsFailure(`TLS (${via}): a broker certificate from an unknown CA`, error);
      expect(error).toBeInstanceOf(GmqError);
      expect(error).toMatchObject({ code: "tls", reason: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
      expect(error!.message).toContain("`ca` option");
      expect((error!.cause as { code?: string }).code).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
      // No `ca` at all (only the system's CAs): the same.
      expect(await connectOnce({ url: urls[via]! })).toMatchObject({
        code: "tls",
        reason: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      });
    });
  }

  const failures = [
    [
      "chain",
      "a broker sending its self-signed root, untrusted",
      "otherCa",
      "SELF_SIGNED_CERT_IN_CHAIN",
      "`ca` option",
    ],
    ["wrongName", "a certificate for another host name", "ca", "ERR_TLS_CERT_ALTNAME_INVALID", "host name"],
    ["expired", "an expired certificate", "ca", "CERT_HAS_EXPIRED", "expired"],
  ] as const;
  for (const [listener, what, trust, reason, advice] of failures) {
    it(`${what}: code tls, reason ${reason}`, async () => {
      const error = await connectOnce({ url: urls[listener]!, ca: pki[trust] });
      recordTlsFailure(`TLS (mqtts): ${what}`, error);
      expect(error).toMatchObject({ code: "tls", reason });
      expect(error!.message).toContain(advice);
      expect(error!.cause).toBeInstanceOf(Error);
    });
  }

  it("a client with reconnect off reports the tls error and stops", async () => {
    const c = createClient({ transport: mqtt({ url: urls.mqtts!, ca: pki.otherCa }), reconnect: false });
    const errors: GmqError[] = [];
    c.on("error", (error) => errors.push(error));
    try {
      const error = await c.connect({ timeoutMs: 5_000 }).catch((e: unknown) => e as GmqError);
      expect(error).toBeInstanceOf(GmqError);
      const reported = [error, ...errors, error?.cause].filter((e): e is GmqError => e instanceof GmqError);
      expect(reported.some((e) => e.code === "tls" && e.reason === "UNABLE_TO_VERIFY_LEAF_SIGNATURE")).toBe(
        true,
      );
    } finally {
      await c.close();
    }
  });

  it("with reconnecting on, a certificate failure is not retried: connect() rejects with it at once", async () => {
    const c = createClient({ transport: mqtt({ url: urls.mqtts!, ca: pki.otherCa }) });
    const changes: StateChange[] = [];
    c.on("state", (change) => changes.push(change));
    const errors: GmqError[] = [];
    c.on("error", (error) => errors.push(error));
    try {
      const started = Date.now();
      const error = (await c.connect().catch((e: unknown) => e)) as GmqError;
      expect([error.code, error.reason]).toEqual(["tls", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"]);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(c.state).toBe("disconnected");
      expect(changes.at(-1)?.error?.code).toBe("tls");
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(errors.filter((e) => e.code === "tls")).toHaveLength(1); // one attempt, no retries
    } finally {
      await c.close();
    }
  });

  it("rejectUnauthorized: false connects to an untrusted broker (an explicit opt-out)", async () => {
    expect(await connectOnce({ url: urls.mqtts!, rejectUnauthorized: false })).toBeUndefined();
  });
});

describe("which failures count as TLS failures", () => {
  const withCode = (code: string) => Object.assign(new Error(code), { code });

  it("certificate and handshake failures on mqtts:// and wss:// only; network failures are not", () => {
    const tls = (code: string, url = "mqtts://broker:8883") => tlsError(withCode(code), url)?.code;
    for (const code of [
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "CERT_NOT_YET_VALID",
      "ERROR_IN_CERT_NOT_AFTER_FIELD",
      "ERR_TLS_CERT_ALTNAME_INVALID",
      "ERR_SSL_WRONG_VERSION_NUMBER",
    ]) {
      expect(tls(code), code).toBe("tls");
      expect(tls(code, "wss://broker/mqtt"), code).toBe("tls");
      expect(tls(code, "mqtt://broker:1883"), code).toBeUndefined();
    }
    for (const code of [
      "ECONNREFUSED",
      "ECONNRESET",
      "ETIMEDOUT",
      "ENOTFOUND",
      "EAI_AGAIN",
      "ERR_TLS_HANDSHAKE_TIMEOUT",
      "WS_ERR_INVALID_CLOSE_CODE",
    ]) {
      expect(tls(code), code).toBeUndefined();
    }
    expect(tlsError(new Error("TLS not authorized"), "mqtts://b")?.reason).toBe("TLS_NOT_AUTHORIZED");
  });
});
