/**
 * The comments page: the comments on one resource, from commentModule.CommentService over
 * gRPC-web (gmq/grpc-web), and a box to post new ones. Posts go through gmq's outbox
 * (IndexedDB), so a comment written offline waits in the browser and is sent when the server
 * is reachable again. The service pushes nothing, so the list is read again every few seconds,
 * and whenever the outbox has emptied.
 *
 * `?url=http://…&target=7&mode=text` picks the gRPC-web endpoint (default: what `npm start`
 * serves), the resource and the wire mode.
 */
import { type ConnectionState, createClient, type OutboxStats } from "gmq";
import { grpcWeb, rpc } from "gmq/grpc-web";
import { indexedDbStore } from "gmq/store-indexeddb";
import { type Comment, CommentServiceDefinition } from "./generated/comment.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const listEl = $<HTMLOListElement>("comments");
const stateEl = $("state");
const outboxEl = $("outbox");
const problemEl = $("problem");
const contentEl = $<HTMLTextAreaElement>("content");

const STATE_TEXT: Record<ConnectionState, string> = {
  disconnected: "offline",
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "offline, retrying…",
  closed: "closed",
};
const REFRESH_MS = 5_000;

/** This browser's author id: the service keeps `user_id` exactly as sent (it has no accounts). */
function myUserId(): number {
  const saved = Number(localStorage.getItem("gmq-comments-user"));
  if (saved > 0) return saved;
  const id = 1 + Math.floor(Math.random() * 99_999);
  localStorage.setItem("gmq-comments-user", String(id));
  return id;
}

interface Pending {
  readonly content: string;
  /** Accepted by the server: shown from the server's list after the next read. */
  sent: boolean;
}

async function start(): Promise<void> {
  const config: { grpcWeb?: string } = await fetch("config.json").then(
    (response) => (response.ok ? response.json() : {}),
    () => ({}),
  );
  const params = new URLSearchParams(location.search);
  const url = params.get("url") ?? config.grpcWeb ?? "http://127.0.0.1:8081";
  const targetId = Number(params.get("target") ?? 1);
  const mode = params.get("mode") === "text" ? "text" : "binary";
  const userId = myUserId();
  $("resource").textContent = `Comments on resource #${targetId}`;
  $("backend-badge").textContent = `gRPC-web (${mode}) · ${url}`;

  const client = createClient({
    transport: grpcWeb({ url, services: [CommentServiceDefinition], mode }),
    store: indexedDbStore({ name: `gmq-comments-${targetId}`, fallback: "memory" }),
  });
  const comments = rpc(client, CommentServiceDefinition);
  /** Posted here and not yet read back from the server. */
  let pending: Pending[] = [];
  let shown: Comment[] = [];

  const item = (content: string, who: string, classes: string[]): HTMLLIElement => {
    const li = document.createElement("li");
    const whoEl = document.createElement("span");
    whoEl.className = "who";
    whoEl.textContent = who;
    li.append(whoEl, document.createTextNode(content));
    li.classList.add(...classes);
    return li;
  };

  const render = (): void => {
    listEl.replaceChildren(
      ...shown.map((c) => {
        const when = new Date(c.createdAt * 1000).toLocaleString();
        const mine = c.userId === userId;
        return item(c.content, `${mine ? "you" : `user #${c.userId}`} · ${when}`, mine ? ["mine"] : []);
      }),
      ...pending.map((p) => item(p.content, "you", ["mine", "waiting"])),
    );
    $("empty").hidden = shown.length + pending.length > 0;
  };

  const refresh = async (): Promise<void> => {
    try {
      // Pages are zero-based and page_size 0 returns nothing: ask for the first 100.
      const accepted = pending.filter((p) => p.sent);
      const page = await comments.getComments({ type: "resource", targetId, pageSize: 100 });
      shown = page.comments;
      pending = pending.filter((p) => !accepted.includes(p));
      problemEl.hidden = true;
      render();
    } catch (error) {
      // Offline: the list stays as it was; the header says why.
      if ((error as { code?: string }).code !== "disconnected") {
        problemEl.textContent = `could not load the comments: ${(error as Error).message}`;
        problemEl.hidden = false;
      }
    }
  };

  const showState = (state: ConnectionState) => {
    stateEl.dataset.state = state;
    stateEl.textContent = STATE_TEXT[state];
  };
  let waiting = 0;
  const showOutbox = (stats: OutboxStats) => {
    outboxEl.hidden = stats.count === 0;
    outboxEl.textContent = `${stats.count} waiting in outbox`;
    // Everything queued has been accepted: read the list again to show it as the server has it.
    if (waiting > 0 && stats.count === 0) {
      for (const post of pending) post.sent = true;
      void refresh();
    }
    waiting = stats.count;
  };
  showState(client.state);
  client.on("state", ({ to }) => {
    showState(to);
    if (to === "connected") void refresh();
  });
  client.on("outbox", showOutbox);
  client.on("dropped", (event) => {
    problemEl.textContent = `a comment was not accepted: ${event.error?.message ?? event.reason}`;
    problemEl.hidden = false;
  });
  await client.connect();
  showOutbox(client.outboxStats());

  $<HTMLFormElement>("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const content = contentEl.value.trim();
    if (!content) return;
    contentEl.value = "";
    const post: Pending = { content, sent: false };
    pending.push(post);
    render();
    client
      .publish("commentModule.CommentService/putComment", { type: "resource", targetId, content, userId })
      .then(
        (result) => {
          if (result.status !== "sent") return; // queued: shown as waiting until the outbox empties
          post.sent = true;
          void refresh();
        },
        (error: Error) => {
          pending = pending.filter((p) => p !== post);
          render();
          problemEl.textContent = `not posted: ${error.message}`;
          problemEl.hidden = false;
        },
      );
  });

  await refresh();
  setInterval(() => {
    if (client.state === "connected" || client.state === "connecting") void refresh();
  }, REFRESH_MS);
  document.title = `gmq comments · #${targetId}`;
  document.body.dataset.ready = "true";
}

void start();
