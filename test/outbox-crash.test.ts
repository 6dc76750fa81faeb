/**
 * Crash safety of the file outbox, end to end: a child process publishing through it is
 * SIGKILLed mid-flush; a new process opens the same outbox and every message reaches a gmq
 * subscriber exactly once (count and values asserted). Then the same with a torn, corrupted tail.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Client, createClient } from "gmq";
import { waitFor } from "gmq/contract";
import { mqtt } from "gmq/mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FILE_HEADER_SIZE } from "../adapters/store-file/format.js";
import { type EmbeddedBroker, startBroker } from "../adapters/testing/broker.js";
import { recordScenario, tally } from "./support/reliability.js";
import { tempDir } from "./support/system.js";

const fixture = new URL("./fixtures/outbox-publisher.ts", import.meta.url).pathname;

function publisher(url: string, path: string, topic: string, count: number) {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", fixture, url, path, topic, String(count)],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr!.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe("file outbox survives a killed process", () => {
  let broker: EmbeddedBroker;
  let receiver: Client;
  const dir = tempDir("crash");
  let run = 0;

  beforeAll(async () => {
    broker = await startBroker();
    // A persistent session: the broker keeps what arrives while the receiver reconnects.
    receiver = createClient({
      transport: mqtt({
        url: broker.tcpUrl,
        envelope: true,
        protocolVersion: 4,
        clientId: "crash-rx",
        clean: false,
      }),
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    receiver.on("error", () => {});
    await receiver.connect();
  });
  afterAll(async () => {
    await receiver.close();
    await broker.close();
    dir.remove();
  });

  async function crashMidFlush(corruptTail: boolean) {
    const topic = `crash/${++run}`;
    const total = 2_000;
    const got: number[] = [];
    await receiver.subscribe<{ value: number }>(topic, (m) => {
      got.push(m.data.value);
    }).ready;
    recordScenario(() => ({
      scenario: `file outbox: publisher SIGKILLed mid-flush${corruptTail ? ", then a torn, corrupted tail" : ""}`,
      injected:
        `SIGKILL of the publishing process while it flushed ${total.toLocaleString("en-US")} queued messages` +
        (corruptTail ? "; a cut frame with a flipped byte appended to its log" : ""),
      ...tally(
        Array.from({ length: total }, (_, i) => i),
        got,
      ),
      notes: "a new process opens the same outbox and sends the rest; a gmq receiver (persistent session)",
    }));
    const path = join(dir.path, `outbox-${run}.log`);
    const atBroker = new Set<string>();
    broker.aedes.on("publish", (packet) => {
      if (packet.topic === topic) atBroker.add(JSON.parse(packet.payload.toString()).id);
    });
    await broker.stop(); // everything gets queued in the file first
    const first = publisher(broker.tcpUrl, path, topic, total);
    await waitFor(() => first.output().includes(`queued ${total}`), 30_000, "the first process to queue");
    await broker.restart();
    await waitFor(() => got.length >= 200, 30_000, "the flush to get going");
    first.child.kill("SIGKILL");
    await first.exited;
    expect(got.length).toBeLessThan(total); // it really died mid-flush
    if (corruptTail) {
      // What a crash in the middle of a write leaves: the start of a frame that never finished
      // (so nothing in it was acknowledged), here with a corrupted byte too.
      const log = readFileSync(path);
      // The first frame's opening bytes: a frame header that checks out, its body cut short.
      const torn = Buffer.from(log.subarray(FILE_HEADER_SIZE, FILE_HEADER_SIZE + 64));
      torn.writeUInt8(torn.readUInt8(20) ^ 0xff, 20);
      appendFileSync(path, torn);
    }
    const second = publisher(broker.tcpUrl, path, topic, 0);
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain("empty");
    await waitFor(() => got.length >= total, 30_000, `${total} messages`).catch((error) => {
      const seen = new Set(got);
      const missing = Array.from({ length: total }, (_, i) => i).filter((i) => !seen.has(i));
      throw new Error(
        `${error.message}: broker saw ${atBroker.size} ids; got ${got.length}, missing ${missing.length} (${missing.slice(0, 10)}…)\n${second.output()}`,
      );
    });
    await new Promise((r) => setTimeout(r, 300));
    return { got, total, output: second.output(), size: statSync(path).size };
  }

  it("SIGKILL mid-flush: a new process delivers the rest; each message arrives exactly once", async () => {
    const { got, total } = await crashMidFlush(false);
    expect(got.length).toBe(total);
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
  }, 90_000);

  it("a torn, corrupted tail is reported and skipped; still each message exactly once", async () => {
    const { got, total, output } = await crashMidFlush(true);
    expect(output).toMatch(/^corruption /m);
    expect(got.length).toBe(total);
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
  }, 90_000);
});
