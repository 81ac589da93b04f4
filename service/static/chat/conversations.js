// The conversation list above the chat: start a new one, switch between them. The chat
// shows one conversation at a time (chat.js asks `currentConversation()`); with none chosen
// the server's default, the newest, is shown and sent to.

import { api, postOnce } from "./api.js";

let current = null; // the conversation shown, once known
let onSwitch = async () => {};

export const currentConversation = () => current;

export function setCurrentConversation(id) {
  current = id;
  document.getElementById("conversation-actions").hidden = !id;
  for (const item of document.querySelectorAll('[data-testid="conversation-item"]')) {
    if (item.dataset.conversationId === id) item.setAttribute("aria-current", "true");
    else item.removeAttribute("aria-current");
  }
}

export function forgetConversations() {
  current = null;
  document.getElementById("conversation-actions").hidden = true;
  document.getElementById("rename-form").hidden = true;
  document.getElementById("conversation-list").replaceChildren();
}

export async function loadConversations() {
  const { conversations } = await api("GET", "/api/v1/conversations?limit=20");
  const items = conversations.map((conversation) => {
    const button = Object.assign(document.createElement("button"), { type: "button", className: "conversation", textContent: conversation.title });
    button.dataset.testid = "conversation-item";
    button.dataset.conversationId = conversation.id;
    button.title = `Last active ${new Date(conversation.updated_at).toLocaleString()}`;
    button.addEventListener("click", () => switchTo(conversation.id));
    const item = document.createElement("li");
    item.append(button);
    return item;
  });
  document.getElementById("conversation-list").replaceChildren(...items);
  setCurrentConversation(current ?? conversations[0]?.id ?? null);
}

async function switchTo(id) {
  if (id === current) return;
  setCurrentConversation(id);
  await onSwitch();
}

const titleOf = (id) => document.querySelector(`[data-testid="conversation-item"][data-conversation-id="${id}"]`)?.textContent ?? "";
const showError = (message) => { document.getElementById("chat-error").textContent = message; };

// Rename the conversation shown: a small form, Escape or Cancel to leave it as it was.
function setUpRename() {
  const form = document.getElementById("rename-form");
  const input = document.getElementById("conversation-title");
  const open = document.getElementById("rename-conversation");
  const close = () => { form.hidden = true; open.focus(); };
  open.addEventListener("click", () => {
    form.hidden = false;
    input.value = titleOf(current);
    input.select();
    input.focus();
  });
  document.getElementById("rename-cancel").addEventListener("click", close);
  form.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); close(); } });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", `/api/v1/conversations/${current}`, { title: input.value });
      form.hidden = true;
      showError("");
      await loadConversations();
      open.focus();
    } catch (error) {
      showError(error.message);
    }
  });
}

export function setUpConversations(reload) {
  onSwitch = reload;
  setUpRename();
  // Archive: out of the list (its messages are kept, and exported); the newest one is shown.
  document.getElementById("archive-conversation").addEventListener("click", async () => {
    try {
      await api("DELETE", `/api/v1/conversations/${current}`);
      document.getElementById("status").textContent = `Archived: ${titleOf(current)}.`;
      current = null;
      await onSwitch();
    } catch (error) {
      showError(error.message);
    }
  });
  const start = document.getElementById("new-conversation");
  start.addEventListener("click", async () => {
    start.disabled = true;
    try {
      const made = await postOnce("/api/v1/conversations", {});
      current = made.id;
      await onSwitch();
      document.getElementById("message").focus();
    } catch (error) {
      document.getElementById("chat-error").textContent = error.message;
    } finally {
      start.disabled = false;
    }
  });
}
