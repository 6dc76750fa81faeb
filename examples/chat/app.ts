/**
 * The chat page: log in, join a room, see who is there, talk to everyone or to one person. The
 * header shows the connection state and how many messages wait in the outbox while offline.
 * `?backend=mqant|mqtt|websocket&url=ws://…` picks the backend (default: what `npm start` serves).
 */
import type { ConnectionState, OutboxStats } from "gmq";
import { indexedDbStore } from "gmq/store-indexeddb";
import { type BackendKind, type ChatLine, type ChatSession, openChat } from "./chat-backend.js";

interface Defaults {
  mqant?: string;
  mqtt?: string;
  websocket?: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const loginForm = $<HTMLFormElement>("login");
const chatView = $<HTMLElement>("chat");
const stateEl = $<HTMLElement>("state");
const outboxEl = $<HTMLElement>("outbox");
const membersEl = $<HTMLUListElement>("members");
const messagesEl = $<HTMLOListElement>("messages");
const targetEl = $<HTMLSelectElement>("target");
const textEl = $<HTMLInputElement>("text");
const LAST_LOGIN = "gmq-chat-login";

let session: ChatSession | undefined;
let me = "";
const members = new Set<string>();
/** My messages not yet accepted by the backend, oldest first. */
const waiting: HTMLLIElement[] = [];

const STATE_TEXT: Record<ConnectionState, string> = {
  disconnected: "not connected",
  connecting: "connecting…",
  connected: "connected",
  reconnecting: "offline, reconnecting…",
  closed: "closed",
};

function showState(state: ConnectionState): void {
  stateEl.dataset.state = state;
  stateEl.textContent = STATE_TEXT[state];
}

function showOutbox(stats: OutboxStats): void {
  outboxEl.hidden = stats.count === 0;
  outboxEl.textContent = `${stats.count} waiting in outbox`;
  // Everything the outbox held has been accepted by the backend.
  if (stats.count === 0) for (const item of waiting.splice(0)) item.classList.remove("waiting");
}

function addLine(line: ChatLine, mine: boolean): HTMLLIElement {
  const item = document.createElement("li");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = mine ? (line.target === "*" ? "you" : `you → ${line.target}`) : line.from;
  item.append(who, document.createTextNode(line.msg));
  if (mine) item.classList.add("mine");
  if (line.target !== "*") item.classList.add("private");
  messagesEl.append(item);
  item.scrollIntoView({ block: "end" });
  return item;
}

function addNotice(text: string): void {
  const item = document.createElement("li");
  item.className = "notice";
  item.textContent = text;
  messagesEl.append(item);
}

function renderMembers(): void {
  membersEl.replaceChildren(
    ...[...members].sort().map((name) => {
      const item = document.createElement("li");
      item.textContent = name;
      item.dataset.user = name;
      if (name === me) item.classList.add("me");
      item.addEventListener("click", () => {
        targetEl.value = name === me ? "*" : name;
      });
      return item;
    }),
  );
  const selected = targetEl.value;
  targetEl.replaceChildren(
    new Option("everyone", "*"),
    ...[...members]
      .filter((name) => name !== me)
      .sort()
      .map((name) => new Option(name, name)),
  );
  targetEl.value = [...targetEl.options].some((o) => o.value === selected) ? selected : "*";
}

async function join(backend: BackendKind, url: string, user: string, room: string): Promise<void> {
  me = user;
  loginForm.hidden = true;
  chatView.hidden = false;
  $("room-title").textContent = `# ${room}`;
  $("backend-badge").textContent = `${backend} · ${url}`;
  sessionStorage.setItem(LAST_LOGIN, JSON.stringify({ backend, url, user, room }));
  const store = indexedDbStore({ name: `chat-${backend}-${user}`, fallback: "memory" });
  session = openChat({
    backend,
    url,
    user,
    room,
    store,
    events: {
      members(users) {
        members.clear();
        for (const name of users) members.add(name);
        members.add(user);
        renderMembers();
      },
      chat(line) {
        if (line.from !== me) addLine(line, false); // my own lines are shown when I send them
      },
      joined({ user: who }) {
        if (members.has(who)) return;
        members.add(who);
        renderMembers();
        addNotice(`${who} joined`);
      },
      left({ user: who }) {
        if (!members.delete(who)) return;
        renderMembers();
        addNotice(`${who} left`);
      },
    },
  });
  const { client } = session;
  showState(client.state);
  showOutbox(client.outboxStats());
  client.on("state", ({ to }) => showState(to));
  client.on("outbox", showOutbox);
  client.on("dropped", (event) => addNotice(`a message was dropped (${event.reason})`));
  client.on("error", (error) => console.warn("gmq:", error.code, error.message));
}

loginForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const data = new FormData(loginForm);
  void join(
    data.get("backend") as BackendKind,
    String(data.get("url")),
    String(data.get("user")),
    String(data.get("room")),
  );
});

$<HTMLFormElement>("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const msg = textEl.value.trim();
  if (!msg || !session) return;
  textEl.value = "";
  const target = targetEl.value;
  const item = addLine({ from: me, msg, roomName: "", target }, true);
  item.classList.add("waiting");
  waiting.push(item);
  session.say(msg, target).then(
    (result) => {
      if (result.status === "sent") item.classList.remove("waiting");
    },
    (error: Error) => {
      item.classList.remove("waiting");
      addNotice(`not sent: ${error.message}`);
    },
  );
});

$("leave").addEventListener("click", async () => {
  sessionStorage.removeItem(LAST_LOGIN);
  await session?.leave();
  location.reload();
});

async function start(): Promise<void> {
  const defaults: Defaults = await fetch("config.json").then(
    (response) => (response.ok ? response.json() : {}),
    () => ({}),
  );
  const params = new URLSearchParams(location.search);
  const backendInput = loginForm.elements.namedItem("backend") as HTMLSelectElement;
  const urlInput = loginForm.elements.namedItem("url") as HTMLInputElement;
  const fillUrl = () => {
    urlInput.value = params.get("url") ?? defaults[backendInput.value as BackendKind] ?? "";
  };
  backendInput.value = params.get("backend") ?? "mqant";
  backendInput.addEventListener("change", () => {
    params.delete("url");
    fillUrl();
  });
  fillUrl();
  // After a reload, rejoin at once so the outbox saved in IndexedDB flushes.
  const last = sessionStorage.getItem(LAST_LOGIN);
  if (last) {
    const { backend, url, user, room } = JSON.parse(last);
    await join(backend, url, user, room);
  }
}

void start();
