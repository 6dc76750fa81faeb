/**
 * The per-connection worker pool of 20 (spec §2.5, checklist item 20), with raw TCP clients.
 */

import { afterEach, describe, expect, it } from "vitest";
import {
  bytesHandler,
  type MqantGate,
  type MqantGateOptions,
  startMqantGate,
} from "../adapters/testing/mqant/index.js";
import {
  Cleanup,
  hex,
  PINGREQ,
  publishPacket,
  RawClient,
  sleep,
  subscribePacket,
  text,
  unsubscribePacket,
} from "./mqant-gate-helpers.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function gate(o: MqantGateOptions = {}): Promise<MqantGate> {
  return cleanup.add(await startMqantGate({ timeScale: 0.02, ...o }));
}

async function client(g: MqantGate): Promise<RawClient> {
  return cleanup.add(await RawClient.tcp(g.tcpPort));
}

describe("worker pool of 20 (item 20)", () => {
  /** A module whose HD_Slow holds its slot until `release()`. */
  function slowGate(o: MqantGateOptions = {}) {
    let release!: () => void;
    const gateOpen = new Promise<void>((r) => {
      release = r;
    });
    const started = { n: 0 };
    const modules = {
      Slow: {
        HD_Slow: bytesHandler(async () => {
          started.n++;
          await gateOpen;
          return "done";
        }),
      },
    };
    return { release, started, make: () => gate({ modules, rpcTimeoutMs: 5000, ...o }) };
  }

  it("replies `the work queue is full!` to the 21st in-flight request, after its PUBACK", async () => {
    const s = slowGate();
    const c = await client(await s.make());
    await c.connect();
    for (let i = 1; i <= 20; i++) c.send(publishPacket(`Slow/HD_Slow/${i}`, "go"));
    c.send(publishPacket("Slow/HD_Slow/21", "go", { qos: 1, id: 21 }));
    const full = await c.publishOn("Slow/HD_Slow/21");
    expect(JSON.parse(text(full.payload!))).toMatchObject({ Error: "the work queue is full!", Result: null });
    const idx = c.packets.indexOf(full);
    expect(hex(c.packets[idx - 1]!.raw)).toBe("40020015");
    // A notify is refused the same way, on its own topic.
    c.send(publishPacket("Slow/HD_Slow", "go"));
    expect(JSON.parse(text((await c.publishOn("Slow/HD_Slow")).payload!)).Error).toBe(
      "the work queue is full!",
    );
    expect(s.started.n).toBe(20);
    s.release();
    await c.publishOn("Slow/HD_Slow/20");
    await sleep(20);
    expect((await c.request("Slow/HD_Slow/22", "go")).Result).toBe("done");
  });

  it("a notify holds its slot only until forwarded", async () => {
    const s = slowGate();
    const c = await client(await s.make());
    await c.connect();
    for (let i = 0; i < 30; i++) c.send(publishPacket("Slow/HD_Slow", "go"));
    await sleep(50);
    expect(s.started.n).toBe(30);
    expect(c.publishesOn("Slow/HD_Slow")).toHaveLength(0);
    s.release();
  });

  it("closes the connection when a PINGREQ finds the pool full (PINGRESP still gets out)", async () => {
    const s = slowGate();
    const c = await client(await s.make());
    await c.connect();
    for (let i = 1; i <= 20; i++) c.send(publishPacket(`Slow/HD_Slow/${i}`, "go"));
    await sleep(20);
    c.send(PINGREQ);
    await c.expectClosed();
    expect(c.packets.at(-1)!.type).toBe(13);
    s.release();
  });

  it("closes the connection when SUBSCRIBE or UNSUBSCRIBE finds the pool full", async () => {
    const s = slowGate();
    const g = await s.make();
    for (const pkt of [subscribePacket(1, [["a", 0]]), unsubscribePacket(2, ["a"])]) {
      const c = await client(g);
      await c.connect();
      for (let i = 1; i <= 20; i++) c.send(publishPacket(`Slow/HD_Slow/${i}`, "go"));
      await sleep(20);
      c.send(pkt);
      await c.expectClosed();
    }
    s.release();
  });

  it("PINGREQ, SUBSCRIBE and UNSUBSCRIBE release their slot at once", async () => {
    const s = slowGate();
    const c = await client(await s.make());
    await c.connect();
    for (let i = 1; i <= 19; i++) c.send(publishPacket(`Slow/HD_Slow/${i}`, "go"));
    for (let i = 0; i < 5; i++) {
      c.send(PINGREQ);
      c.send(subscribePacket(1, [["a", 0]]));
      c.send(unsubscribePacket(2, ["a"]));
    }
    await sleep(50);
    expect(c.isClosed).toBe(false);
    s.release();
  });
});
