// The JSON API, called with the session cookie (same origin; the browser adds Origin on
// POST and DELETE, which the server checks). No token ever reaches this script.

export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// Pydantic's messages, said for people: "password: String should have at least 8 characters"
// becomes "Password must be at least 8 characters long."
const FIELD_NAMES = { email: "Email", password: "Password", content: "Your message", title: "The title" };
const PHRASES = [
  [/^String should have at least (\d+) characters?$/, (n) => `must be at least ${n} characters long`],
  [/^String should have at most (\d+) characters?$/, (n) => `must be at most ${n} characters long`],
  [/^value is not a valid email address.*$/, () => "is not a valid email address"],
  [/^Field required$/, () => "is required"],
  [/^is empty$/, () => "is empty"],
];

function sayField(error) {
  const name = FIELD_NAMES[String(error.field).split(".").pop()] || error.field;
  for (const [pattern, say] of PHRASES) {
    const match = pattern.exec(error.message);
    if (match) return `${name} ${say(...match.slice(1))}.`;
  }
  const message = error.message.replace(/[.]$/, "");
  return `${name}: ${message.charAt(0).toLowerCase()}${message.slice(1)}.`;
}

// Errors in words: what the server said, with what to do about it.
function explain(status, detail, retryAfter, errors) {
  if (status === 429) {
    const wait = retryAfter ? ` Try again in ${retryAfter} second${retryAfter === "1" ? "" : "s"}.` : "";
    // The server's own "try again later" would say it twice next to the wait.
    const reason = wait ? detail.replace(/[;,.]?\s*try again[^.;]*[.]?$/i, "") : detail.replace(/[.]$/, "");
    return `Too many attempts: ${reason}.${wait}`;
  }
  if (status === 401) return detail === "invalid email or password" ? "Wrong email or password." : "You are signed out. Sign in again.";
  if (status >= 500) return `The server could not do that (${status}): ${detail}. Try again shortly.`;
  if (status === 422 && errors?.length && errors.every((e) => e.field && e.message && e.field !== "body")) {
    return errors.map(sayField).join(" ");
  }
  const sentence = detail.charAt(0).toUpperCase() + detail.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

// A key for a POST that must not happen twice: resent with the same key (after a network
// drop, say), the server answers what it answered the first time and stores nothing again.
export function newIdempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export async function api(method, path, body, headers = {}) {
  const options = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new ApiError(0, "The server cannot be reached. Check your connection and try again.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const retryAfter = response.headers.get("Retry-After");
    const detail = data.detail || response.statusText || "request failed";
    const failure = new ApiError(response.status, explain(response.status, detail, retryAfter, data.errors), retryAfter);
    failure.body = data;
    throw failure;
  }
  return data;
}

// A POST with an Idempotency-Key, sent once more with the same key if the network dropped:
// the first attempt may have arrived, and the key makes the second return its answer.
export async function postOnce(path, body, key = newIdempotencyKey()) {
  try {
    return await api("POST", path, body, { "Idempotency-Key": key });
  } catch (failure) {
    if (failure.status !== 0) throw failure;
    return api("POST", path, body, { "Idempotency-Key": key });
  }
}
