// What the three panes share on screen: the login form, the connection indicator, the error
// line, and the session/socket life cycle (log in → load state → socket; log out → all off).

import { Session, Socket } from "./api.js";

/** The element with this data-testid inside `root` (tests use the same attribute). */
export const byTestId = (root, testid) => root.querySelector(`[data-testid="${testid}"]`);

export const config = JSON.parse(document.getElementById("console-config").textContent);

export function formatFare(xaf) {
  return `${String(Math.round(xaf)).replace(/\B(?=(\d{3})+(?!\d))/g, " ")} XAF`;
}

export const fixed = (value) => Number(value).toFixed(5);

/** A REST error ({detail, code}), a socket `error` event's data ({message, code}) or an Error. */
export function describe(error) {
  const text = error.detail || error.message || String(error);
  return error.code ? `${text} (${error.code})` : text;
}

export function showError(root, error) {
  const box = byTestId(root, "error");
  box.textContent = describe(error);
  box.dataset.code = error.code || "";
  box.hidden = false;
}

export function clearError(root) {
  byTestId(root, "error").hidden = true;
}

/** Runs an async UI action, showing its failure instead of losing it in the console. */
export function guarded(root, action) {
  return async (...args) => {
    try {
      clearError(root);
      return await action(...args);
    } catch (error) {
      showError(root, error);
      return undefined;
    }
  };
}

function setConnection(root, state) {
  const badge = byTestId(root, "connection");
  badge.dataset.state = state;
  badge.textContent = state;
}

/**
 * Wires a pane: login form (demo accounts fill it), session restore, one socket.
 * `hooks.start(me)` loads the pane's state once logged in; `hooks.event(message)` gets every
 * socket message; `hooks.stop()` clears the pane on logout.
 */
export function setupPane(name, hooks) {
  const root = document.querySelector(`[data-pane="${name}"]`);
  const session = new Session(name);
  const socket = new Socket(session, {
    onEvent: (message) => {
      if (message.type === "error") showError(root, message.data);
      hooks.event(message);
    },
    onState: (state) => setConnection(root, state),
  });
  const login = byTestId(root, "login");
  const loggedIn = byTestId(root, "session");

  const begin = guarded(root, async () => {
    const me = await session.api("GET", "auth/me/");
    login.hidden = true;
    loggedIn.hidden = false;
    byTestId(root, "user-name").textContent = `${me.full_name} (${me.phone_number})`;
    await hooks.start(me);
    socket.open();
  });

  session.onLogout = (reason) => {
    socket.close();
    hooks.stop();
    login.hidden = false;
    loggedIn.hidden = true;
    if (reason) showError(root, { detail: reason, code: "logged_out" });
  };

  login.addEventListener("submit", guarded(root, async (event) => {
    event.preventDefault();
    await session.login(login.elements.phone.value, login.elements.password.value);
    await begin();
  }));
  login.querySelectorAll('[data-testid="demo-account"]').forEach((button) => {
    button.addEventListener("click", () => {
      login.elements.phone.value = button.dataset.phone;
      login.elements.password.value = login.querySelector(".demo code").textContent;
    });
  });
  byTestId(root, "logout").addEventListener("click", () => session.logout());

  if (session.loggedIn) begin();
  return { root, session, socket };
}
