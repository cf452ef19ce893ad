// Every server call of the app. The clean API (/api/v2) where it has the route; the
// original contract's routes for memory, Ollama helpers and server settings until the
// clean API has them: switching is a change here only.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
    this.field = body?.field;
  }
}

async function request(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, { error: `Network error: ${error.message}`, code: "network" });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok || data?.success === false) throw new ApiError(response.status, data);
  return data;
}

const enc = encodeURIComponent;
const v2 = (id) => `/api/v2/locrits/${enc(id)}`;
const memory = (name) => `/api/locrits/${enc(name)}/memory`;

export const api = {
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

  memory: {
    summary: (name) => request("GET", `${memory(name)}/summary`),
    search: (name, q, limit = 50) => request("GET", `${memory(name)}/search?q=${enc(q)}&limit=${limit}`),
    sessions: async (name) => (await request("GET", `${memory(name)}/sessions`)).sessions,
    sessionMessages: (name, sid, limit = 200) =>
      request("GET", `${memory(name)}/sessions/${enc(sid)}/messages?limit=${limit}`),
    deleteSession: (name, sid) => request("DELETE", `${memory(name)}/sessions/${enc(sid)}`),
    editMessage: (name, id, content) => request("PUT", `${memory(name)}/messages/${enc(id)}`, { content }),
    deleteMessage: (name, id) => request("DELETE", `${memory(name)}/messages/${enc(id)}`),
    memories: (name) => request("GET", `${memory(name)}/memories`),
    addMemory: (name, fields) => request("POST", `${memory(name)}/memories`, fields),
    deleteMemory: (name, id) => request("DELETE", `${memory(name)}/memories/${enc(id)}`),
    concepts: (name) => request("GET", `${memory(name)}/concepts`),
  },
};
