// The page: which view shows, signing in and out. Views are addressed by the URL's hash,
// so a refresh stays where it was.

import { api } from "./api.js";
import { loadChat, setUpChat, stopStreams } from "./chat.js";
import { loadMemory } from "./memory.js";
import { loadUsage, setUpAccount } from "./account.js";
import { closeEvents, ensureEvents, onEvent } from "./events.js";
import { forgetConversations } from "./conversations.js";

const VIEWS = ["chat", "memory", "usage", "account"];
const LOADERS = { chat: loadChat, memory: loadMemory, usage: loadUsage, account: async () => {} };
let me = null;
let pendingSignOut = Promise.resolve(); // a new sign-in waits for it, so its cookie is not cleared after

const $ = (id) => document.getElementById(id);
const status = (text) => { $("status").textContent = text; };

function showOnly(id) {
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== id;
  $("nav").hidden = id === "signin";
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

// `message` is an error; `notice` good news (an account deleted), shown as such.
function showSignIn(message = "", notice = "") {
  me = null;
  closeEvents();
  stopStreams();
  forgetConversations(); // the next person to sign in starts at their own newest
  showOnly("signin");
  $("signin-error").textContent = message;
  $("signin-notice").textContent = notice;
  $("email").value = ""; // a shared computer keeps nothing of the last person
  $("password").value = "";
  $("email").focus();
}

async function showView() {
  if (!me) return;
  const view = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "chat";
  showOnly(view);
  $("account-email").textContent = me.email;
  try {
    await LOADERS[view]();
    ensureEvents(); // every view hears "the coach noted N things"
  } catch (error) {
    if (error.status === 401) showSignIn("Your session has ended. Sign in again.");
    else ($(`${view}-error`) || $("status")).textContent = error.message;
  }
}

async function signIn(register) {
  const email = $("email").value.trim();
  const password = $("password").value;
  const error = $("signin-error");
  error.textContent = "";
  if (!email || !password) {
    error.textContent = "Enter your email and a password.";
    return;
  }
  const buttons = [$("login"), $("register")];
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await pendingSignOut;
    if (register) await api("POST", "/api/v1/auth/register", { email, password });
    me = await api("POST", "/app/login", { email, password });
    $("password").value = "";
    $("signin-notice").textContent = "";
    // replaceState, not `location.hash =`: a hashchange would clear the status just set.
    if (!location.hash) history.replaceState(null, "", "#chat");
    await showView();
    status(register ? "Account created. You are signed in." : "");
    $("message").focus();
  } catch (failure) {
    error.textContent = failure.status === 409 ? "That email already has an account. Sign in instead." : failure.message;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function signOut() {
  // Instant: the sign-in form comes back now; revoking the session (and the server's
  // extraction of what was said) happens in the background.
  showSignIn("", "Signed out.");
  pendingSignOut = fetch("/app/logout", { method: "POST", credentials: "same-origin", keepalive: true }).catch(() => {});
}

// An extraction or a reflection of the user's finished (after a sign-out elsewhere, say).
onEvent("noted", ({ count, source }) => {
  const things = `${count} thing${count === 1 ? "" : "s"}`;
  const where = source === "reflection" ? "looking back over your sessions" : "from your conversation";
  status(`The coach noted ${things} ${where}. See “What the coach remembers”.`);
});

async function start() {
  setUpChat();
  setUpAccount(() => showSignIn("", "Your account and all its data were deleted."));
  $("signin-form").addEventListener("submit", (event) => { event.preventDefault(); signIn(false); });
  $("register").addEventListener("click", () => signIn(true));
  $("logout").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => { status(""); showView(); });
  try {
    me = await api("GET", "/api/v1/auth/me");
  } catch (error) {
    showSignIn(error.status === 401 ? "" : error.message);
    return;
  }
  await showView();
}

start();
