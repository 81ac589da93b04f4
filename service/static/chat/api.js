// The JSON API, called with the session cookie (same origin; the browser adds Origin on
// POST and DELETE, which the server checks). No token ever reaches this script.

export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// Errors in words: what the server said, with what to do about it.
function explain(status, detail, retryAfter) {
  if (status === 429) {
    const wait = retryAfter ? ` Try again in ${retryAfter} second${retryAfter === "1" ? "" : "s"}.` : "";
    return `Too many attempts: ${detail.replace(/[.]$/, "")}.${wait}`;
  }
  if (status === 401) return detail === "invalid email or password" ? "Wrong email or password." : "You are signed out. Sign in again.";
  if (status >= 500) return `The server could not do that (${status}): ${detail}. Try again shortly.`;
  const sentence = detail.charAt(0).toUpperCase() + detail.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

export async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
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
    throw new ApiError(response.status, explain(response.status, detail, retryAfter), retryAfter);
  }
  return data;
}
