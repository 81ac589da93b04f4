// The conversation: history, sending, and replies streamed as server-sent events.
//
// A reply's stream replays from its first event, so after a refresh (or in a second tab)
// the page's event stream (events.js) says which replies are still being written, and
// the page follows each from the start:
// the text is rebuilt from the replay, never added to what was shown. EventSource resends
// Last-Event-ID on its own reconnects, so a dropped connection resumes without gaps or repeats.
// A reply being written has Stop; a stopped or failed one has Retry (a new reply to the
// same message). Each message is sent with its own Idempotency-Key, kept until it is
// accepted, so sending it again after a network drop never stores it twice.

import { api, newIdempotencyKey, postOnce } from "./api.js";
import { connectEvents, onEvent } from "./events.js";
import { currentConversation, loadConversations, setCurrentConversation, setUpConversations } from "./conversations.js";

const log = () => document.getElementById("log");
const streams = new Map(); // reply_id -> EventSource
let pending = null; // { content, conversation, key }: the message being sent, until the server accepts it
// This tab's own POST in flight: its event (sent to every tab) waits for the answer, so the
// message and reply it names are found on the page, not shown twice.
let sending = Promise.resolve();
const ended = new Set(); // replies this page saw end: an event naming one again is old news

function bubble(role, text, ids = {}) {
  const item = document.createElement("li");
  item.className = role;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "You" : "Coach";
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(who, body);
  if (role === "assistant") item.dataset.testid = "reply";
  if (ids.messageId) item.dataset.messageId = ids.messageId;
  if (ids.replyId) item.dataset.replyId = ids.replyId;
  log().append(item);
  document.getElementById("empty-hint").hidden = true;
  item.scrollIntoView({ block: "nearest" });
  return item;
}

function showError(message) {
  document.getElementById("chat-error").textContent = message;
}

function control(item, testid, label, onClick) {
  item.querySelector(".controls")?.remove();
  const button = Object.assign(document.createElement("button"), { type: "button", className: "link", textContent: label });
  button.dataset.testid = testid;
  button.addEventListener("click", onClick);
  const controls = Object.assign(document.createElement("div"), { className: "controls" });
  controls.append(button);
  item.append(controls);
  return button;
}

// Stop: the server cancels the reply; its stream then ends with `cancelled` (below).
function offerStop(item, replyId) {
  const stop = control(item, "stop", "Stop", async () => {
    stop.disabled = true;
    try {
      await api("DELETE", `/api/v1/chat/replies/${replyId}`);
    } catch (error) {
      stop.disabled = false;
      showError(error.message);
    }
  });
  stop.setAttribute("aria-label", "Stop this reply");
}

// Retry: a new reply to the same message, written into the same place on the page.
function offerRetry(item, replyId) {
  const key = newIdempotencyKey(); // one retry, however often the button is pressed
  const retry = control(item, "retry", "Retry", async () => {
    retry.disabled = true;
    showError("");
    try {
      const posted = postOnce(`/api/v1/chat/replies/${replyId}/retry`, undefined, key);
      sending = posted.catch(() => {});
      const accepted = await posted;
      item.classList.remove("failed", "stopped");
      item.dataset.replyId = accepted.reply_id;
      follow(accepted);
    } catch (error) {
      retry.disabled = false;
      showError(error.message);
    }
  });
  retry.setAttribute("aria-label", "Retry this reply");
}

function follow(reply) {
  if (streams.has(reply.reply_id) || ended.has(reply.reply_id)) return;
  const item = document.querySelector(`[data-reply-id="${reply.reply_id}"]`) || bubble("assistant", "", { replyId: reply.reply_id });
  item.classList.add("writing");
  offerStop(item, reply.reply_id);
  const text = item.querySelector(".text");
  text.textContent = "";
  const seen = new Set(); // event ids already shown: a replay never adds text twice
  const source = new EventSource(reply.stream_url);
  streams.set(reply.reply_id, source);
  const finish = () => {
    source.close();
    streams.delete(reply.reply_id);
    ended.add(reply.reply_id);
    item.classList.remove("writing");
    item.querySelector(".controls")?.remove();
  };
  source.addEventListener("chunk", (event) => {
    if (seen.has(event.lastEventId)) return;
    seen.add(event.lastEventId);
    text.textContent += JSON.parse(event.data).text;
  });
  // The stream was started again (Redis lost it mid-reply): its text replaces what is shown.
  source.addEventListener("reset", (event) => {
    seen.add(event.lastEventId);
    text.textContent = JSON.parse(event.data).text;
  });
  source.addEventListener("done", (event) => {
    const { message_id: messageId } = JSON.parse(event.data);
    finish();
    // Finished while the history was loading: the stored message is already on the page.
    if (document.querySelector(`[data-message-id="${messageId}"]`) && !item.dataset.messageId) item.remove();
    else item.dataset.messageId = messageId;
  });
  source.addEventListener("error", (event) => {
    if (event.data) { // the reply failed: the server says why (LLM down, budget used up, ...)
      const { code, detail } = JSON.parse(event.data);
      finish();
      if (code === "cancelled") {
        item.classList.add("stopped");
        if (!text.textContent) text.textContent = "Stopped.";
      } else {
        item.classList.add("failed");
        const reason = code === "budget_exhausted" ? "your daily token budget is used up; it renews tomorrow (UTC)" : detail;
        showError(`The coach could not finish this reply: ${reason}.`);
      }
      offerRetry(item, reply.reply_id);
    } else if (source.readyState === EventSource.CLOSED) { // refused (signed out, expired)
      finish();
      showError("The reply stream was closed by the server. Reload the page to see the stored reply.");
    } // else the browser reconnects by itself, sending Last-Event-ID
  });
}

export function stopStreams() {
  for (const source of streams.values()) source.close();
  streams.clear();
  ended.clear();
  log().replaceChildren();
  showError("");
}

export async function loadChat() {
  stopStreams();
  await loadConversations();
  const shown = currentConversation();
  const history = await api("GET", `/api/v1/chat/messages?limit=50${shown ? `&conversation_id=${encodeURIComponent(shown)}` : ""}`);
  setCurrentConversation(history.conversation_id);
  for (const message of history.messages) bubble(message.role, message.content, { messageId: message.id });
  showEmptyHint();
  connectEvents(); // it opens with the replies still being written: followed as they come
}

// Events of another conversation than the one shown are not this view's.
const elsewhere = (event) => event.conversation_id && currentConversation() && event.conversation_id !== currentConversation();

// From the user's other tabs and devices (and this one's own, found already shown).
onEvent("message", async (message) => {
  await sending;
  if (elsewhere(message)) return;
  if (!document.querySelector(`[data-message-id="${message.message_id}"]`)) {
    bubble("user", message.content, { messageId: message.message_id });
  }
  follow(message);
});

onEvent("reply", async (reply) => {
  await sending;
  if (elsewhere(reply)) return;
  const replaced = reply.retry_of && document.querySelector(`[data-reply-id="${reply.retry_of}"]`);
  if (replaced) { // a retry from elsewhere: written where the stopped or failed reply was
    replaced.classList.remove("failed", "stopped");
    replaced.dataset.replyId = reply.reply_id;
  }
  follow(reply);
});

// An empty chat says what to say.
function showEmptyHint() {
  document.getElementById("empty-hint").hidden = log().children.length > 0;
}

export function setUpChat() {
  setUpConversations(loadChat);
  const form = document.getElementById("chat-form");
  const input = document.getElementById("message");
  const send = document.getElementById("send");
  input.addEventListener("keydown", (event) => { // Enter sends, Shift+Enter is a new line
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = input.value.trim();
    if (!content) {
      showError("Write a message first.");
      return;
    }
    showError("");
    // One key per message: the same text sent again after a failure keeps its key, so if the
    // first attempt did arrive, the server answers it again instead of storing a second copy.
    const conversationNow = currentConversation();
    if (pending?.content !== content || pending?.conversation !== conversationNow) {
      pending = { content, conversation: conversationNow, key: newIdempotencyKey() };
    }
    // Optimistic: the message shows at once; it is taken back if the server refuses it.
    const mine = bubble("user", content);
    input.value = "";
    send.disabled = true;
    try {
      const conversation = currentConversation();
      const posted = postOnce("/api/v1/chat/messages", conversation ? { content, conversation_id: conversation } : { content }, pending.key);
      sending = posted.catch(() => {});
      const accepted = await posted;
      setCurrentConversation(accepted.conversation_id); // the first message may have made one
      loadConversations().catch(() => {}); // its order and title (named after a first message)
      pending = null;
      mine.dataset.messageId = accepted.message_id;
      follow(accepted);
    } catch (error) {
      mine.remove();
      showEmptyHint();
      input.value = content;
      showError(error.message);
    } finally {
      send.disabled = false;
      input.focus();
    }
  });
}
