// Every server call of the app. The clean API (/api/v2) where it has the route; the
// original contract's routes for the Ollama helpers and server settings until the
// clean API has them, and for the public pages (/public/…): switching is a change here only.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
    this.field = body?.field;
    this.visitorId = body?.visitor_id;
  }
}

/** The invitation of the page's link (`?invitation=`), sent with every call it opens. */
const INVITATION_HEADER = "X-Locrit-Invitation";
const invitation = () => new URLSearchParams(location.search).get("invitation");

/**
 * The sign-in's CSRF token (from the status, the sign-in or the setup): the server
 * refuses a state-changing call made with the sign-in's cookie unless it echoes it.
 */
const CSRF_HEADER = "X-CSRF-Token";
let csrfToken = null;
const changesState = (method) => !["GET", "HEAD", "OPTIONS"].includes(method);

/** Called when the server says a call needs a sign-in (401); see `onUnauthenticated`. */
let unauthenticated = () => {};

/** The headers every call of the app sends: the page's invitation, the CSRF token. */
function headers(method, extra) {
  const all = { ...extra };
  if (invitation()) all[INVITATION_HEADER] = invitation();
  if (csrfToken && changesState(method)) all[CSRF_HEADER] = csrfToken;
  return all;
}

/**
 * A JSON call. A 401 means the sign-in is gone (or never was): the app is told, unless
 * the call checks a password itself (`checksPassword`), where a 401 is a wrong password.
 */
async function request(method, path, body, { contentType = "application/json", checksPassword = false } = {}) {
  const init = { method, headers: headers(method, { Accept: "application/json" }) };
  if (body !== undefined) {
    init.headers["Content-Type"] = contentType;
    init.body = contentType === "application/json" ? JSON.stringify(body) : body;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, { error: `Network error: ${error.message}`, code: "network" });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (response.status === 401 && !checksPassword) {
    csrfToken = null;
    unauthenticated();
  }
  if (!response.ok || data?.success === false) throw new ApiError(response.status, data);
  return data;
}

/** A call that signs in (sign-in, setup): the answer's CSRF token is the one to send from now on. */
async function signIn(path, credentials) {
  const answer = await request("POST", path, credentials, { checksPassword: true });
  csrfToken = answer.csrf_token;
  return answer;
}

const enc = encodeURIComponent;
const v2 = (id) => `/api/v2/locrits/${enc(id)}`;
const query = (params) => new URLSearchParams(
  Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== "")).toString();

/** The `data:` frames of a Server-Sent Events body, as they arrive. */
async function* sseFrames(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("\n");
      if (data) yield JSON.parse(data);
    }
  }
}

/**
 * Follows a Server-Sent Events route: `handlers[name](data)` for each named event (its
 * JSON parsed), `onopen()` on each (re)connection. The browser reconnects by itself
 * (sending `Last-Event-ID`). Returns the function that stops it.
 */
function follow(path, handlers, onopen) {
  const source = new EventSource(path);
  for (const [name, handle] of Object.entries(handlers)) {
    // A lost connection is an `error` too, without data: the browser retries it.
    source.addEventListener(name, (event) => event.data !== undefined && handle(JSON.parse(event.data)));
  }
  if (onopen) source.addEventListener("open", onopen);
  return () => source.close();
}

const VISITOR_HEADER = "X-Locrit-Visitor";

export const api = {
  /** Who the app acts as; keeps the sign-in's CSRF token for the calls that follow. */
  auth: {
    async status() {
      const status = await request("GET", "/api/v2/auth/status");
      csrfToken = status.csrf_token;
      return status;
    },
    /** The one-time setup: the first admin, signed in. */
    setup: (username, password) => signIn("/api/v2/auth/setup", { username, password }),
    login: (username, password) => signIn("/api/v2/auth/login", { username, password }),
    async logout() {
      await request("POST", "/api/v2/auth/logout");
      csrfToken = null;
    },
    /** Ends every sign-in of the account, this one too. */
    changePassword: (current, next) => request("POST", "/api/v2/auth/password",
      { current_password: current, new_password: next }, { checksPassword: true }),
    keys: async () => (await request("GET", "/api/v2/auth/keys")).keys,
    /** `{name, scopes: {read, chat, manage}, locrit?}` → `{key, token}`: the token is in this answer only. */
    createKey: (fields) => request("POST", "/api/v2/auth/keys", fields),
    revokeKey: (id) => request("DELETE", `/api/v2/auth/keys/${enc(id)}`),
    /** `handler()` runs on every 401 but a wrong password's: the call needed a sign-in. */
    onUnauthenticated(handler) {
      unauthenticated = handler;
    },
  },
  /** Accounts, for admins. */
  accounts: {
    list: async () => (await request("GET", "/api/v2/accounts")).accounts,
    create: (fields) => request("POST", "/api/v2/accounts", fields),
    remove: (id) => request("DELETE", `/api/v2/accounts/${enc(id)}`),
  },
  /** A Locrit's invitations, for its owner; a new one → `{invitation, token, link}`. */
  invitations: {
    list: async (id) => (await request("GET", `${v2(id)}/invitations`)).invitations,
    create: (id, fields) => request("POST", `${v2(id)}/invitations`, fields),
    revoke: (id, invitation) => request("DELETE", `${v2(id)}/invitations/${enc(invitation)}`),
  },

  locrits: async () => (await request("GET", "/api/v2/locrits")).locrits,
  async locritByName(name) {
    const { locrits } = await request("GET", `/api/v2/locrits?name=${enc(name)}`);
    const locrit = locrits.find((l) => l.name === name);
    if (!locrit) throw new ApiError(404, { error: `No Locrit named ${name}`, code: "not_found" });
    return locrit;
  },
  createLocrit: (fields) => request("POST", "/api/v2/locrits", fields),
  updateLocrit: (id, patch) => request("PATCH", v2(id), patch),
  deleteLocrit: (id) => request("DELETE", v2(id)),

  /** Messages and memories per day, days starting at the browser's midnight. */
  activity: async (id, days = 14) => (await request("GET",
    `${v2(id)}/activity?days=${days}&utc_offset_minutes=${-new Date().getTimezoneOffset()}`)).days,
  sessions: async (id) => (await request("GET", `${v2(id)}/sessions`)).sessions,
  /** A page of a session's messages, oldest first; `before` pages back. */
  messages(id, session, { before, limit = 50 } = {}) {
    const query = new URLSearchParams({ limit });
    if (before) query.set("before", before);
    return request("GET", `${v2(id)}/sessions/${enc(session)}/messages?${query}`);
  },

  /** Server counters; `since` counts the messages written after it. */
  status: (since) => request("GET", `/api/v2/status?since=${enc(since.toISOString())}`),
  importConfig: (yaml) => request("POST", "/api/v2/import/config", { yaml }),

  ollamaModels: async (url) =>
    (await request("GET", `/api/ollama/models${url ? `?ollama_url=${enc(url)}` : ""}`)).models,
  testOllama: (url) => request("POST", "/config/test-ollama", { ollama_url: url }),
  config: async () => (await request("GET", "/api/config")).config,
  saveConfig: (fields) => request("POST", "/api/config/save", fields),

  /** A Locrit's whole archive (sessions, messages, memories, concepts), for a download. */
  exportUrl: (id) => `${v2(id)}/export`,
  /** Imports an archive file → `{locrit, counts}`; 409 when its name or ids are taken, 422 when not an archive. */
  importLocrit: (file) => request("POST", "/api/v2/locrits/import", file, { contentType: "application/gzip" }),

  /** Public pages, as an anonymous visitor sees them. */
  public: {
    list: async () => (await request("GET", "/public/list")).locrits,
    profile: async (name) => (await request("GET", `/public/${enc(name)}`)).locrit,
    /** The visitor's own messages with the Locrit, oldest first. */
    history: async (name, visitorId) =>
      (await request("GET", `/public/${enc(name)}/chat/history?${query({ visitor_id: visitorId })}`)).messages,
    /**
     * Sends a visitor's message; `onVisitor(id)` learns the visitor's id as soon as the
     * server names it, `onChunk(text)` gets the reply as it streams. Resolves with the
     * last frame (`message_id`, `user_message_id`); rejects with an ApiError.
     */
    async chat(name, { message, visitorName, visitorId }, { onVisitor, onChunk }) {
      const sent = headers("POST", { Accept: "text/event-stream", "Content-Type": "application/json" });
      if (visitorId) sent[VISITOR_HEADER] = visitorId;
      let response;
      try {
        response = await fetch(`/public/${enc(name)}/chat/stream`, {
          method: "POST", headers: sent, body: JSON.stringify({ message, visitor_name: visitorName || undefined }),
        });
      } catch (error) {
        throw new ApiError(0, { error: `Network error: ${error.message}`, code: "network" });
      }
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        if (body?.visitor_id) onVisitor(body.visitor_id);
        throw new ApiError(response.status, body);
      }
      const visitor = response.headers.get(VISITOR_HEADER);
      if (visitor) onVisitor(visitor);
      for await (const frame of sseFrames(response)) {
        if (frame.error) throw new ApiError(502, frame);
        if (frame.done) return frame;
        onChunk(frame.chunk);
      }
      throw new ApiError(0, { error: "The reply stopped before its end", code: "network" });
    },
  },

  /** Locrits of other servers a Locrit may talk with; their keys are never answered. */
  contacts: {
    list: async (id) => (await request("GET", `${v2(id)}/contacts`)).contacts,
    add: (id, fields) => request("POST", `${v2(id)}/contacts`, fields),
    remove: (id, contact) => request("DELETE", `${v2(id)}/contacts/${enc(contact)}`),
  },

  /** Conversations Locrits hold with each other. */
  dialogues: {
    /** A Locrit's dialogues, newest first. */
    list: async (id) => (await request("GET", `${v2(id)}/dialogues`)).dialogues,
    /** Starts (or, with `start_at`, schedules) one: `{partner | contact_id, topic, opening, max_turns, …}`. */
    start: (id, fields) => request("POST", `${v2(id)}/dialogues`, fields),
    /** `{dialogue, transcript}`: the initiator's side, `user` what the partner said. */
    get: (dialogue) => request("GET", `/api/v2/dialogues/${enc(dialogue)}`),
    /** `action`: pause, resume or stop; answers the dialogue (409 when not possible). */
    control: (dialogue, action) => request("POST", `/api/v2/dialogues/${enc(dialogue)}/${action}`),
    steer: (dialogue, message) => request("POST", `/api/v2/dialogues/${enc(dialogue)}/steer`, { message }),
    /** Live: `{dialogue(state), turn({speaker, turn_id}), message(Message)}` handlers. */
    watch: (dialogue, handlers, onopen) => follow(`/api/v2/dialogues/${enc(dialogue)}/events`, handlers, onopen),
    /** A reply as it is made: `{delta({index, text}), done({reply}), error, cancelled}` handlers. */
    watchTurn: (turn, handlers) => follow(`/api/v2/turns/${enc(turn)}/events`, handlers),
  },

  memory: {
    summary: (id) => request("GET", `${v2(id)}/memory`),
    clear: (id) => request("POST", `${v2(id)}/memory/clear`, { confirm: true }),
    /** Hits (HTML-safe snippets), `semantic: {available, reason}`, `next_cursor`. */
    search: (id, q, { cursor, limit = 20 } = {}) =>
      request("GET", `${v2(id)}/search?${query({ q, mode: "hybrid", cursor, limit })}`),
    renameSession: (id, session, name) => request("PATCH", `${v2(id)}/sessions/${enc(session)}`, { name }),
    deleteSession: (id, session) => request("DELETE", `${v2(id)}/sessions/${enc(session)}`),
    message: (id, message) => request("GET", `${v2(id)}/messages/${enc(message)}`),
    /** The "why" of a reply: `{memories, messages, deleted}` recalled into its prompt. */
    recall: (id, message) => request("GET", `${v2(id)}/messages/${enc(message)}/recall`),
    editMessage: (id, message, content) => request("PATCH", `${v2(id)}/messages/${enc(message)}`, { content }),
    deleteMessage: (id, message) => request("DELETE", `${v2(id)}/messages/${enc(message)}`),
    /** A page of memories, newest first; `next` pages on. */
    memories: (id, { before, limit = 50 } = {}) => request("GET", `${v2(id)}/memories?${query({ before, limit })}`),
    memory: (id, memory) => request("GET", `${v2(id)}/memories/${enc(memory)}`),
    addMemory: (id, fields) => request("POST", `${v2(id)}/memories`, fields),
    updateMemory: (id, memory, patch) => request("PATCH", `${v2(id)}/memories/${enc(memory)}`, patch),
    deleteMemory: (id, memory) => request("DELETE", `${v2(id)}/memories/${enc(memory)}`),
    concepts: (id, limit = 60) => request("GET", `${v2(id)}/concepts?limit=${limit}`),
    related: (id, concept) => request("GET", `${v2(id)}/concepts/${enc(concept)}/related?depth=1`),
    jobs: (id, { before, limit = 50 } = {}) => request("GET", `${v2(id)}/jobs?${query({ before, limit })}`),
    retryJob: (id, job) => request("POST", `${v2(id)}/jobs/${enc(job)}/retry`),
  },
};
