// The user's own event stream (GET /api/v1/events): what the user's other tabs and devices
// did, and "the coach noted N things". One per page. A fresh connection opens with the
// replies still being written (the chat view reconnects when it loads, to get that list);
// a dropped one is resumed by the browser itself with Last-Event-ID, missing nothing.

const NAMES = ["message", "reply", "noted"];
const handlers = {};
let source = null;

export function onEvent(name, handler) {
  handlers[name] = handler;
}

export function connectEvents() {
  closeEvents();
  source = new EventSource("/api/v1/events");
  for (const name of NAMES) source.addEventListener(name, (event) => handlers[name]?.(JSON.parse(event.data)));
}

export function ensureEvents() {
  if (!source || source.readyState === EventSource.CLOSED) connectEvents();
}

export function closeEvents() {
  source?.close();
  source = null;
}
