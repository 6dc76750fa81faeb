/**
 * gnode emulator, HTTP surface (spec §2; checklist §7.1 #1–4): setup, paths and methods, the
 * envelope, exact texts in check order, Go integer parsing, `/push` parameter sources, lazy topic
 * creation and the `/config` rules. Raw `fetch` only.
 */

import { GmqError } from "gmq";
import { createManualClock, startGnode } from "gmq/testing";
import { describe, expect, it } from "vitest";
import {
  api,
  config,
  declare,
  http,
  popNow,
  push,
  pushOk,
  RawTcp,
  startNode,
  stat,
} from "./support/gnode-wire.js";

describe("setup (#1)", () => {
  it("listens on ephemeral loopback ports by default and reports them", async () => {
    const node = await startNode();
    expect(node.host).toBe("127.0.0.1");
    expect(node.httpPort).toBeGreaterThan(0);
    expect(node.tcpPort).toBeGreaterThan(0);
    expect(node.httpPort).not.toBe(node.tcpPort);
    expect(node.httpUrl).toBe(`http://127.0.0.1:${node.httpPort}`);
    expect(node.tcpAddress).toEqual({ host: "127.0.0.1", port: node.tcpPort });
    expect(node.nodeId).toBe(1);
    expect((await http(node, "/ping")).text).toBe("OK");
  });

  it("takes fixed ports, and one broker serves both interfaces", async () => {
    const probe = await startNode();
    const [httpPort, tcpPort] = [probe.httpPort, probe.tcpPort];
    await probe.close();
    const node = await startNode({ httpPort, tcpPort });
    expect([node.httpPort, node.tcpPort]).toEqual([httpPort, tcpPort]);
    await declare(node, "shared", "k");
    const tcp = await RawTcp.open(node);
    const id = await tcp.pub("shared", "k", "over tcp");
    expect(await popNow(node, "shared", "k")).toEqual({ id, body: "over tcp", retry_count: 0 });
  });

  it("rejects bad options with invalid_argument naming the field", async () => {
    const bad = [
      [{ nodeId: 1024 }, "nodeId"],
      [{ nodeId: -1 }, "nodeId"],
      [{ msgTTR: 61 }, "msgTTR"],
      [{ msgTTR: 0 }, "msgTTR"],
      [{ msgMaxRetry: 0 }, "msgMaxRetry"],
      [{ heartbeatMs: 0 }, "heartbeatMs"],
      [{ scanIntervalMs: -1 }, "scanIntervalMs"],
      [{ httpPort: 70000 }, "httpPort"],
      [{ clock: createManualClock(0) }, "clock"],
    ] as const;
    for (const [options, field] of bad) {
      const error = await startGnode(options).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GmqError);
      expect(error).toMatchObject({ code: "invalid_argument", field });
    }
  });
});

describe("paths and methods (#2)", () => {
  it("answers /ping with text OK and unknown paths with 404 not found, both text/plain", async () => {
    const node = await startNode();
    const ping = await http(node, "/ping");
    expect([ping.status, ping.text, ping.contentType]).toEqual([200, "OK", "text/plain; charset=utf-8"]);
    for (const path of ["/nope", "/ping/", "/PING", "/Push", "/pop/", "//pop", "/"]) {
      const r = await http(node, path);
      expect([path, r.status, r.text, r.contentType]).toEqual([
        path,
        404,
        "not found",
        "text/plain; charset=utf-8",
      ]);
    }
  });

  it("matches the unescaped path, like Go's URL.Path, and refuses bad escapes with 400", async () => {
    const node = await startNode();
    expect((await http(node, "/pi%6Eg")).text).toBe("OK");
    expect((await http(node, "/pi%zzng")).status).toBe(400);
    expect(await api(node, "/getAllTopicSta%74")).toEqual({ code: 0, data: [], msg: "success" });
  });

  it("runs the handler whatever the method, OPTIONS and HEAD included", async () => {
    const node = await startNode();
    for (const [i, method] of ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"].entries()) {
      const r = await api(node, "/declareQueue", { topic: "m", bindKey: `k${i}` }, { method });
      expect([method, r]).toEqual([method, { code: 0, data: null, msg: "ok" }]);
    }
    const head = await fetch(`${node.httpUrl}/declareQueue?topic=m&bindKey=head`, { method: "HEAD" });
    expect(head.status).toBe(200);
    const queues = await api(node, "/getQueuesByTopic", { topic: "m" });
    expect(Object.keys(queues.data as object)).toEqual(["head", "k0", "k1", "k2", "k3", "k4", "k5"]);
  });

  it("has no CORS: a preflight gets the handler's JSON and no Access-Control headers, and it consumes", async () => {
    const node = await startNode();
    await declare(node, "cors", "k");
    await pushOk(node, "cors", "k", "taken by the preflight");
    const r = await http(
      node,
      "/pop",
      { topic: "cors", bindKey: "k" },
      {
        method: "OPTIONS",
        headers: { Origin: "http://elsewhere.example", "Access-Control-Request-Method": "GET" },
      },
    );
    expect(r.status).toBe(200);
    expect(JSON.parse(r.text)).toMatchObject({ code: 0, data: { body: "taken by the preflight" } });
    expect([...r.headers.keys()].filter((h) => h.startsWith("access-control"))).toEqual([]);
    expect(await stat(node, "cors")).toMatchObject({ queue_num: 1, wait_ack_num: 0 });
  });

  it("writes every envelope as HTTP 200 application/json with keys code, data, msg in that order", async () => {
    const node = await startNode();
    const failure = await http(node, "/pop");
    expect([failure.status, failure.contentType, failure.text]).toEqual([
      200,
      "application/json",
      '{"code":1,"data":null,"msg":"topic is empty"}',
    ]);
    const success = await http(node, "/config", { topic: "t" });
    expect(success.text).toBe('{"code":0,"data":null,"msg":"success"}');
  });

  it("escapes <, > and & in JSON strings the way Go does", async () => {
    const node = await startNode();
    await declare(node, "esc", "k");
    await pushOk(node, "esc", "k", "<a href='x'>&</a>");
    const r = await http(node, "/pop", { topic: "esc", bindKey: "k" });
    expect(r.text).toContain('"body":"\\u003ca href=\'x\'\\u003e\\u0026\\u003c/a\\u003e"');
    const miss = await http(node, "/pop", { topic: "esc", bindKey: "<k>" });
    expect(miss.text).toBe('{"code":1,"data":null,"msg":"bindKey:\\u003ck\\u003e can\'t match queue"}');
  });
});

describe("exact texts in check order (#3)", () => {
  it("/pop", async () => {
    const node = await startNode();
    expect(await api(node, "/pop")).toEqual({ code: 1, data: null, msg: "topic is empty" });
    expect(await api(node, "/pop", { bindKey: "k" })).toMatchObject({ msg: "topic is empty" });
    expect(await api(node, "/pop", { topic: "t" })).toMatchObject({ msg: "bindKey is empty" });
    expect(await api(node, "/pop", { topic: "t", bindKey: "k" })).toEqual({
      code: 1,
      data: null,
      msg: "bindKey:k can't match queue",
    });
  });

  it("/ack: msgId first (missing, 0, non-numeric, non-integer), then topic, bind key, queue, id", async () => {
    const node = await startNode();
    for (const msgId of [undefined, "", "0", "abc", "1.0", " 5", "0x10"]) {
      const params: Record<string, string> = { topic: "t", bindKey: "k" };
      if (msgId !== undefined) params.msgId = msgId;
      expect([msgId, await api(node, "/ack", params)]).toEqual([
        msgId,
        { code: 1, data: null, msg: "msgId is empty" },
      ]);
    }
    expect(await api(node, "/ack", { msgId: "5" })).toMatchObject({ code: 1, msg: "topic is empty" });
    expect(await api(node, "/ack", { msgId: "5", topic: "t" })).toMatchObject({
      code: 1,
      msg: "bindKey is empty",
    });
    expect(await api(node, "/ack", { msgId: "5", topic: "t", bindKey: "k" })).toMatchObject({
      code: 1,
      msg: "bindkey:k is not associated with queue",
    });
    await declare(node, "t", "k");
    expect(await api(node, "/ack", { msgId: "+5", topic: "t", bindKey: "k" })).toMatchObject({
      msg: "msgId:5 is not exist.",
    });
    // ParseInt then uint64(): negatives wrap, overflow clamps to the int64 maximum.
    expect(await api(node, "/ack", { msgId: "-1", topic: "t", bindKey: "k" })).toMatchObject({
      msg: "msgId:18446744073709551615 is not exist.",
    });
    expect(
      await api(node, "/ack", { msgId: "99999999999999999999", topic: "t", bindKey: "k" }),
    ).toMatchObject({
      msg: "msgId:9223372036854775807 is not exist.",
    });
  });

  it("/declareQueue, /config, /getQueuesByTopic", async () => {
    const node = await startNode();
    expect(await api(node, "/declareQueue", { bindKey: "k" })).toMatchObject({
      code: 1,
      msg: "topic is empty",
    });
    expect(await api(node, "/declareQueue", { topic: "t" })).toMatchObject({
      code: 1,
      msg: "bindKey is empty",
    });
    expect(await api(node, "/declareQueue", { topic: "t", bindKey: "k" })).toEqual({
      code: 0,
      data: null,
      msg: "ok",
    });
    expect(await api(node, "/declareQueue", { topic: "t", bindKey: "k" })).toEqual({
      code: 1,
      data: null,
      msg: "bindKey k has exist.",
    });
    expect(await api(node, "/config")).toEqual({ code: 1, data: null, msg: "topic is empty" });
    expect(await api(node, "/getQueuesByTopic")).toEqual({ code: 1, data: null, msg: "topic is empty" });
  });

  it("/getTopicStat, /setIsAutoAck, /exitTopic need a loaded topic", async () => {
    const node = await startNode();
    for (const path of ["/getTopicStat", "/setIsAutoAck", "/exitTopic"]) {
      expect(await api(node, path)).toEqual({ code: 1, data: null, msg: "topic is empty" });
      expect(await api(node, path, { topic: "ghost" })).toEqual({
        code: 1,
        data: null,
        msg: "topic is not exist",
      });
    }
    expect(node.topicNames()).toEqual([]);
    await config(node, "real", {});
    expect(await api(node, "/setIsAutoAck", { topic: "real" })).toEqual({
      code: 0,
      data: null,
      msg: "success",
    });
    expect(await api(node, "/exitTopic", { topic: "real" })).toEqual({
      code: 0,
      data: null,
      msg: "topic.real has exit.",
    });
  });

  it("/getAllTopicStat is [] with no topics, one entry per loaded topic otherwise", async () => {
    const node = await startNode();
    expect(await api(node, "/getAllTopicStat")).toEqual({ code: 0, data: [], msg: "success" });
    await config(node, "a", {});
    await config(node, "b", {});
    const all = await api(node, "/getAllTopicStat");
    expect((all.data as Array<{ name: string }>).map((s) => s.name).sort()).toEqual(["a", "b"]);
  });

  it("/push: data is empty, then Go JSON errors, then the routing error", async () => {
    const node = await startNode();
    const post = (body: BodyInit, headers?: Record<string, string>) =>
      api(node, "/push", undefined, { method: "POST", body, ...(headers ? { headers } : {}) });
    expect(await post(new URLSearchParams())).toEqual({ code: 1, data: null, msg: "data is empty" });
    expect(await post(new URLSearchParams({ data: "" }))).toEqual({
      code: 1,
      data: null,
      msg: "data is empty",
    });
    const syntax = await push(node, "{not json");
    expect(syntax.code).toBe(1);
    expect(syntax.data).toBeNull();
    expect(syntax.msg.length).toBeGreaterThan(0);
    const typeError = (field: string, kind: string, type: string) =>
      `json: cannot unmarshal ${kind} into Go struct field RecvMsgData.${field} of type ${type}`;
    expect(await push(node, { topic: "t", body: "x", delay: "5" })).toMatchObject({
      code: 1,
      msg: typeError("delay", "string", "int"),
    });
    expect(await push(node, { topic: "t", body: { a: 1 } })).toMatchObject({
      msg: typeError("body", "object", "string"),
    });
    expect(await push(node, { topic: "t", body: "x", delay: 1.5 })).toMatchObject({
      msg: typeError("delay", "number 1.5", "int"),
    });
    expect(await push(node, { topic: "t", route_key: 7 })).toMatchObject({
      msg: typeError("route_key", "number", "string"),
    });
    expect(await push(node, "[1,2]")).toMatchObject({
      msg: "json: cannot unmarshal array into Go value of type gnode.RecvMsgData",
    });
    expect(await push(node, { topic: "t", route_key: "nowhere", body: "x" })).toEqual({
      code: 1,
      data: null,
      msg: "routeKey:nowhere is not match with queue, the mode is 2",
    });
    await config(node, "t", { mode: "1" });
    expect(await push(node, { topic: "t", route_key: "nowhere", body: "x" })).toMatchObject({
      msg: "routeKey:nowhere is not match with queue, the mode is 1",
    });
  });

  it("/push JSON: nulls and unknown fields are ignored, keys match case-insensitively, routeKey is not route_key", async () => {
    const node = await startNode();
    await declare(node, "j", "k");
    const id = await pushOk(node, "j", "k", "plain");
    expect(
      await push(node, { TOPIC: "j", Route_Key: "k", Body: "folded", delay: null, extra: [1, { x: 2 }] }),
    ).toMatchObject({ code: 0 });
    // `routeKey` is unknown, so the route key is empty and the push goes to an auto-created default.
    expect(await push(node, { topic: "j", routeKey: "k", body: "to default" })).toMatchObject({ code: 0 });
    expect(await popNow(node, "j", "k")).toMatchObject({ id, body: "plain" });
    expect(await popNow(node, "j", "k")).toMatchObject({ body: "folded" });
    expect(await popNow(node, "j", "default")).toMatchObject({ body: "to default" });
  });
});

describe("parameters (#2)", () => {
  it("reads integers like Go's Atoi: signs allowed, anything else is 0", async () => {
    const node = await startNode();
    await config(node, "atoi", { mode: "+1", msgTTR: "0010", msgRetry: "3.0", isAutoAck: "01" });
    expect(node.topic("atoi")).toMatchObject({ mode: 1, msgTTR: 10, msgRetry: 5, isAutoAck: true });
    await config(node, "atoi", { mode: " 2", msgTTR: "1e1", msgRetry: "-2", isAutoAck: "true" });
    expect(node.topic("atoi")).toMatchObject({ mode: 1, msgTTR: 10, msgRetry: 5, isAutoAck: false });
    await config(node, "atoi", { mode: "2", msgTTR: "99999999999999999999", msgRetry: "２" });
    expect(node.topic("atoi")).toMatchObject({ mode: 2, msgTTR: 10, msgRetry: 5 });
  });

  it("ignores the body on every endpoint but /push", async () => {
    const node = await startNode();
    const r = await api(node, "/declareQueue", undefined, {
      method: "POST",
      body: new URLSearchParams({ topic: "t", bindKey: "k" }),
    });
    expect(r).toMatchObject({ code: 1, msg: "topic is empty" });
  });

  it("/push reads an urlencoded body, multipart, or the query; JSON bodies are never parsed", async () => {
    const node = await startNode();
    await declare(node, "src", "k");
    const data = (body: string) => JSON.stringify({ topic: "src", route_key: "k", body });
    const fd = new FormData();
    fd.append("data", data("multipart"));
    expect(await api(node, "/push", undefined, { method: "POST", body: fd })).toMatchObject({ code: 0 });
    expect(await api(node, "/push", { data: data("query") })).toMatchObject({ code: 0 });
    expect(await api(node, "/push", { data: data("query, POST") }, { method: "POST" })).toMatchObject({
      code: 0,
    });
    const json = await api(node, "/push", undefined, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ data: data("json") }),
    });
    expect(json).toEqual({ code: 1, data: null, msg: "data is empty" });
    expect((await popNow(node, "src", "k")).body).toBe("multipart");
    expect((await popNow(node, "src", "k")).body).toBe("query");
    expect((await popNow(node, "src", "k")).body).toBe("query, POST");
  });

  it("/push: an urlencoded body wins over the query, even when its data is empty", async () => {
    const node = await startNode();
    await declare(node, "win", "k");
    const data = (body: string) => JSON.stringify({ topic: "win", route_key: "k", body });
    const both = await api(
      node,
      "/push",
      { data: data("query") },
      {
        method: "POST",
        body: new URLSearchParams({ data: data("body") }),
      },
    );
    expect(both).toMatchObject({ code: 0 });
    expect((await popNow(node, "win", "k")).body).toBe("body");
    const emptyBody = await api(
      node,
      "/push",
      { data: data("query") },
      {
        method: "POST",
        body: "data=" + "",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      },
    );
    expect(emptyBody).toEqual({ code: 1, data: null, msg: "data is empty" });
  });

  it("/push: a urlencoded body on GET is ignored, while multipart counts (after the query) on any method", async () => {
    const node = await startNode();
    await declare(node, "g", "k");
    const data = (body: string) => JSON.stringify({ topic: "g", route_key: "k", body });
    const get = await fetch(`${node.httpUrl}/push`, {
      method: "OPTIONS",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: `data=${encodeURIComponent(data("ignored"))}`,
    });
    expect(await get.json()).toEqual({ code: 1, data: null, msg: "data is empty" });
    const fd = new FormData();
    fd.append("data", data("multipart"));
    const viaQuery = await api(node, "/push", { data: data("query first") }, { method: "PUT", body: fd });
    expect(viaQuery).toMatchObject({ code: 0 });
    expect((await popNow(node, "g", "k")).body).toBe("query first");
    // A file part named data is not a value.
    const files = new FormData();
    files.append("data", new Blob([data("file")]), "data.json");
    expect(await api(node, "/push", undefined, { method: "POST", body: files })).toMatchObject({
      msg: "data is empty",
    });
  });

  it("/push: an urlencoded body over 10 MiB reads as no data; exactly 10 MiB still works", async () => {
    const node = await startNode();
    await declare(node, "big", "k");
    const prefix = 'data={"topic":"big","route_key":"k","body":"';
    const fill = (total: number) => prefix + "x".repeat(total - prefix.length - 2) + '"}';
    const headers = { "Content-Type": "application/x-www-form-urlencoded" };
    const limit = 10 * 1024 * 1024;
    const over = await api(node, "/push", undefined, { method: "POST", headers, body: fill(limit + 1) });
    expect(over).toEqual({ code: 1, data: null, msg: "data is empty" });
    const at = await api(node, "/push", undefined, { method: "POST", headers, body: fill(limit) });
    expect(at).toMatchObject({ code: 0 });
    expect((await popNow(node, "big", "k")).body.length).toBe(limit - prefix.length - 2);
  });

  it("/push skips query pairs with bad escapes or semicolons, like url.ParseQuery", async () => {
    const node = await startNode();
    await declare(node, "q", "k");
    const data = encodeURIComponent(JSON.stringify({ topic: "q", route_key: "k", body: "second" }));
    const r = await http(node, `/push?data=%zz&data=${data}`);
    expect(JSON.parse(r.text)).toMatchObject({ code: 0 });
    const semi = await http(node, `/push?data=${data};x=1`);
    expect(JSON.parse(semi.text)).toEqual({ code: 1, data: null, msg: "data is empty" });
    expect((await popNow(node, "q", "k")).body).toBe("second");
  });
});

describe("topics and settings (#4)", () => {
  it("creates topics for exactly /push, /pop, /ack, /config, /declareQueue and /getQueuesByTopic", async () => {
    const node = await startNode();
    await push(node, { topic: "via-push", route_key: "none", body: "x" });
    await api(node, "/pop", { topic: "via-pop", bindKey: "k" });
    await api(node, "/ack", { msgId: "1", topic: "via-ack", bindKey: "k" });
    await api(node, "/config", { topic: "via-config" });
    await api(node, "/declareQueue", { topic: "via-declare", bindKey: "k" });
    await api(node, "/getQueuesByTopic", { topic: "via-queues" });
    await api(node, "/getTopicStat", { topic: "not-stat" });
    await api(node, "/setIsAutoAck", { topic: "not-toggle" });
    await api(node, "/exitTopic", { topic: "not-exit" });
    await api(node, "/ack", { msgId: "0", topic: "not-ack-without-id", bindKey: "k" });
    await api(node, "/pop", { topic: "not-pop-without-key" });
    expect(node.topicNames().sort()).toEqual(
      ["via-ack", "via-config", "via-declare", "via-pop", "via-push", "via-queues"].sort(),
    );
    expect(await api(node, "/getQueuesByTopic", { topic: "via-push" })).toEqual({
      code: 0,
      data: {},
      msg: "success",
    });
  });

  it("starts a topic in mode 2, auto-ack, node TTR and retry; /config isAutoAck is 1 or false (absent too)", async () => {
    const node = await startNode({ msgTTR: 20, msgMaxRetry: 4 });
    await api(node, "/getQueuesByTopic", { topic: "d" });
    expect(node.topic("d")).toMatchObject({ mode: 2, isAutoAck: true, msgTTR: 20, msgRetry: 4 });
    expect(await stat(node, "d")).toMatchObject({ is_auto_ack: true });
    await config(node, "d", { mode: "1" });
    expect(node.topic("d")).toMatchObject({ mode: 1, isAutoAck: false });
    await config(node, "d", { isAutoAck: "1", mode: "3" });
    expect(node.topic("d")).toMatchObject({ mode: 1, isAutoAck: true });
    await config(node, "d", { isAutoAck: "2", mode: "0" });
    expect(node.topic("d")).toMatchObject({ mode: 1, isAutoAck: false });
  });

  it("lets msgTTR and msgRetry only go down, to at least 1", async () => {
    const node = await startNode();
    await config(node, "ttr", { msgTTR: "40", msgRetry: "9" });
    expect(node.topic("ttr")).toMatchObject({ msgTTR: 30, msgRetry: 5 });
    await config(node, "ttr", { msgTTR: "10", msgRetry: "3" });
    expect(node.topic("ttr")).toMatchObject({ msgTTR: 10, msgRetry: 3 });
    await config(node, "ttr", { msgTTR: "20", msgRetry: "0" });
    expect(node.topic("ttr")).toMatchObject({ msgTTR: 10, msgRetry: 3 });
    await config(node, "ttr", { msgTTR: "-5", msgRetry: "1" });
    expect(node.topic("ttr")).toMatchObject({ msgTTR: 10, msgRetry: 1 });
  });

  it("/setIsAutoAck toggles", async () => {
    const node = await startNode();
    await api(node, "/getQueuesByTopic", { topic: "flip" });
    await api(node, "/setIsAutoAck", { topic: "flip" });
    expect((await stat(node, "flip")).is_auto_ack).toBe(false);
    await api(node, "/setIsAutoAck", { topic: "flip" });
    expect((await stat(node, "flip")).is_auto_ack).toBe(true);
  });

  it("applies setting changes to later reads only", async () => {
    const clock = createManualClock(1_700_000_000_000);
    const node = await startNode({ clock, scanIntervalMs: 0 });
    await declare(node, "later", "k");
    await config(node, "later", { isAutoAck: "0" });
    const first = await pushOk(node, "later", "k", "read with TTR 30");
    await popNow(node, "later", "k");
    await config(node, "later", { isAutoAck: "1", msgTTR: "5" });
    await pushOk(node, "later", "k", "read with auto-ack");
    await popNow(node, "later", "k");
    expect(await stat(node, "later")).toMatchObject({ wait_ack_num: 1 });
    clock.advance(10_000);
    node.scan();
    expect(await stat(node, "later")).toMatchObject({ wait_ack_num: 1 });
    clock.advance(20_000);
    node.scan();
    expect(await popNow(node, "later", "k")).toEqual({ id: first, body: "read with TTR 30", retry_count: 1 });
  });
});

describe("getQueuesByTopic", () => {
  it("lists bind key → queue name sorted by key, without DLQs", async () => {
    const node = await startNode();
    await declare(node, "list", "zeta", "alpha", "Mid");
    await push(node, { topic: "list", body: "to default" });
    expect(await api(node, "/getQueuesByTopic", { topic: "list" })).toEqual({
      code: 0,
      data: { Mid: "list_Mid", alpha: "list_alpha", default: "list_default", zeta: "list_zeta" },
      msg: "success",
    });
    const raw = await http(node, "/getQueuesByTopic", { topic: "list" });
    expect(raw.text).toBe(
      '{"code":0,"data":{"Mid":"list_Mid","alpha":"list_alpha","default":"list_default","zeta":"list_zeta"},"msg":"success"}',
    );
  });
});
