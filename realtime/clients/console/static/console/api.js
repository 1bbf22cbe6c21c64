// The REST + WebSocket client every pane shares: log in, call the API with the access token
// (refreshed before it expires), and keep ONE socket open, resuming from the last reliable event.

const API = "/api/v1/";
const REFRESH_MARGIN_MS = 60_000; // refresh this long before the access token's exp
const PING_MS = 30_000; // the guide: ping every 30 s...
const SILENCE_MS = 60_000; // ...and reconnect when nothing was heard for 60 s
const BACKOFF_MAX_MS = 30_000;

/** A REST error as the server words it: {detail, code} (+ fields such as ride_id). */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || "http_error";
    this.body = body || {};
  }
}

async function call(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { detail: "The server cannot be reached.", code: "network_error" });
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The token's exp claim; the server verifies the signature, the page only schedules a refresh.
function expiresAt(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload)).exp * 1000;
  } catch {
    return null;
  }
}

/** One pane's login: tokens kept in sessionStorage, so a reload stays logged in (per tab). */
export class Session {
  constructor(name) {
    this.key = `rideshare-console.${name}`;
    this.tokens = JSON.parse(sessionStorage.getItem(this.key) || "null");
    this.onLogout = () => {};
    this.refreshing = null;
    this.timer = null;
    if (this.tokens) this.schedule();
  }

  get loggedIn() { return Boolean(this.tokens); }
  get access() { return this.tokens && this.tokens.access; }

  async login(phone, password) {
    this.store(await call("POST", "auth/token/", { phone_number: phone, password }));
  }

  logout(reason) {
    clearTimeout(this.timer);
    this.tokens = null;
    sessionStorage.removeItem(this.key);
    this.onLogout(reason);
  }

  store(tokens) {
    this.tokens = { access: tokens.access, refresh: tokens.refresh };
    sessionStorage.setItem(this.key, JSON.stringify(this.tokens));
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    const exp = expiresAt(this.access);
    if (exp) this.timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(5_000, exp - Date.now() - REFRESH_MARGIN_MS));
  }

  /** One refresh at a time: refresh tokens rotate, and the one sent is blacklisted. */
  refresh() {
    if (!this.tokens) return Promise.reject(new ApiError(401, { detail: "Not logged in.", code: "not_authenticated" }));
    if (!this.refreshing) {
      this.refreshing = call("POST", "auth/token/refresh/", { refresh: this.tokens.refresh })
        .then((tokens) => this.store(tokens))
        .catch((error) => {
          if (error.status === 401) this.logout("Your session ended: log in again.");
          throw error;
        })
        .finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  /** An API call; a 401 (token expired meanwhile) is retried once after a refresh. */
  async api(method, path, body) {
    try {
      return await call(method, path, body, this.access);
    } catch (error) {
      if (error.status !== 401 || !this.tokens) throw error;
      await this.refresh();
      return call(method, path, body, this.access);
    }
  }
}

/**
 * The pane's one WebSocket. `onEvent(message)` gets every server message; `onState(state, code)`
 * gets "connecting" | "online" | "offline". Reconnects with backoff and `last_event_id`, so the
 * server replays reliable events missed meanwhile.
 */
export class Socket {
  constructor(session, { onEvent, onState }) {
    this.session = session;
    this.onEvent = onEvent;
    this.onState = onState;
    this.ws = null;
    this.lastEventId = null;
    this.outbox = []; // sent once connected (the guide: queue messages while offline)
    this.attempt = 0;
    this.authRetries = 0;
    this.stopped = true;
    this.timers = [];
  }

  get isOpen() { return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN && this.ready); }

  open() {
    this.stopped = false;
    this.lastEventId = null; // a new login loads its state afresh
    this.connect();
  }

  close() {
    this.stopped = true;
    this.outbox = [];
    this.clearTimers();
    clearTimeout(this.retry);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.onState("offline");
  }

  /** Sends now when connected; otherwise queues it (a newer position replaces a queued one). */
  send(message) {
    if (this.isOpen) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    if (message.type === "location_update") this.outbox = this.outbox.filter((m) => m.type !== "location_update");
    this.outbox.push(message);
    return false;
  }

  connect() {
    const url = new URL(`${API}ws/connect`, window.location.href);
    url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.session.access);
    if (this.lastEventId !== null) url.searchParams.set("last_event_id", String(this.lastEventId));
    this.ready = false;
    this.onState("connecting");
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    ws.onclose = (event) => this.closed(ws, event.code);
  }

  receive(message) {
    this.heard = Date.now();
    if (Number.isInteger(message.id)) this.lastEventId = Math.max(this.lastEventId || 0, message.id);
    if (message.type === "connected") {
      // A fresh connection starts after the newest event; a resumed one keeps its cursor.
      if (this.lastEventId === null) this.lastEventId = message.data.last_event_id;
      this.ready = true;
      this.attempt = 0;
      this.authRetries = 0;
      this.startTimers();
      this.onState("online");
      const queued = this.outbox.splice(0);
      queued.forEach((m) => this.ws.send(JSON.stringify(m)));
    } else if (message.type === "resync_required") {
      this.lastEventId = message.data.last_event_id; // the pane reloads its state over REST
    }
    this.onEvent(message);
  }

  closed(ws, code) {
    if (ws !== this.ws) return; // an older socket, already replaced
    this.ws = null;
    this.ready = false;
    this.clearTimers();
    if (this.stopped) return;
    this.onState("offline", code);
    this.onEvent({ type: "socket_closed", data: { code } });
    if (code === 4010) return; // replaced by a newer connection of this user: that one is live
    if (code === 4003) {
      this.session.logout("This account was deactivated.");
      return;
    }
    if (code === 4001 || code === 4002) {
      // Expired or refused token: refresh, then resume; twice in a row means log in again.
      if (this.authRetries++ >= 2) {
        this.session.logout("Your session ended: log in again.");
        return;
      }
      this.session.refresh().then(() => this.reconnect(0), () => this.reconnect(this.backoff()));
      return;
    }
    this.reconnect(code === 1001 ? 0 : this.backoff(code === 4008 ? 3 : 0));
  }

  backoff(extra = 0) {
    const base = Math.min(BACKOFF_MAX_MS, 1000 * 2 ** (this.attempt++ + extra));
    return base / 2 + Math.random() * (base / 2); // jitter: not every tab comes back at once
  }

  reconnect(ms) {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => { if (!this.stopped && this.session.loggedIn) this.connect(); }, ms);
  }

  startTimers() {
    this.clearTimers();
    this.timers.push(setInterval(() => this.send({ type: "ping", timestamp: new Date().toISOString() }), PING_MS));
    this.timers.push(setInterval(() => {
      if (this.ws && Date.now() - this.heard > SILENCE_MS) this.ws.close(); // onclose reconnects
    }, 5_000));
  }

  clearTimers() {
    this.timers.forEach(clearInterval);
    this.timers = [];
  }
}
