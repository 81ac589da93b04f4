// Live refresh for /admin: fetch the server-rendered panels every few seconds and swap
// them in; the buttons call the admin API with the session cookie (same origin, so the
// browser adds the Origin header the server checks). A notice shows next to the action
// that caused it (each section has its own), and survives the refreshes.
const REFRESH_MS = 2000;
const panels = document.getElementById("panels");
const refreshState = document.getElementById("refresh-state");
const limitsForm = document.getElementById("limits-form");
const notices = new Map(); // section name -> { text, bad }

function showNotices() {
  for (const slot of document.querySelectorAll("[data-notice]")) {
    const notice = notices.get(slot.dataset.notice);
    slot.hidden = !notice;
    if (!notice) continue;
    slot.textContent = notice.text;
    slot.classList.toggle("bad", notice.bad);
  }
}

function say(section, text, bad = false) {
  notices.set(section, { text, bad });
  showNotices();
}

async function refresh() {
  try {
    const response = await fetch("/admin/panels", { credentials: "same-origin", cache: "no-store" });
    if (response.status === 401 || response.status === 403) {
      window.location.reload(); // signed out or no longer an admin: the server says which
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    panels.innerHTML = await response.text();
    showNotices();
    refreshState.textContent = `live · ${new Date().toLocaleTimeString()}`;
    refreshState.classList.remove("bad");
  } catch (error) {
    refreshState.textContent = `refresh failed (${error.message}); retrying`;
    refreshState.classList.add("bad");
  }
}

async function call(method, path, body) {
  const init = { method, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || `HTTP ${response.status}`);
  return answer;
}

const ACTIONS = {
  async requeue(button) {
    const { job_id } = await call("POST", `/api/v1/admin/failed-jobs/${encodeURIComponent(button.dataset.id)}/requeue`);
    return `Requeued as ${job_id}`;
  },
  async "requeue-job"(button) {
    const { job_id } = await call("POST", `/api/v1/admin/jobs/${encodeURIComponent(button.dataset.id)}/requeue`);
    return `Requeued ${button.dataset.id} as ${job_id}`;
  },
  async cancel(button) {
    const { status } = await call("DELETE", `/api/v1/jobs/${encodeURIComponent(button.dataset.id)}`);
    return status === "cancelled" ? `Cancelled ${button.dataset.id}` : `Cancelling ${button.dataset.id} (now ${status})`;
  },
  async "run-cron"(button) {
    const { job_id } = await call("POST", `/api/v1/admin/crons/${encodeURIComponent(button.dataset.name)}/run`);
    return `Started ${job_id}`;
  },
};

panels.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button || !(button.dataset.action in ACTIONS)) return;
  const section = button.dataset.noticeFor;
  button.disabled = true;
  try {
    say(section, await ACTIONS[button.dataset.action](button));
  } catch (error) {
    say(section, `Failed: ${error.message}`, true);
  } finally {
    button.disabled = false;
    refresh();
  }
});

// Only the limits the admin changed are sent, so two admins changing different limits do
// not undo each other. A value that is not a number is sent as typed: the server names it.
limitsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const change = {};
  for (const input of limitsForm.querySelectorAll("input")) {
    input.removeAttribute("aria-invalid");
    if (input.value === input.defaultValue) continue;
    change[input.name] = input.value.trim() !== "" && Number.isInteger(Number(input.value)) ? Number(input.value) : input.value;
  }
  if (Object.keys(change).length === 0) {
    say("limits", "Nothing changed.");
    return;
  }
  const button = limitsForm.querySelector("button");
  button.disabled = true;
  try {
    const { limits } = await call("PUT", "/api/v1/admin/limits", change);
    for (const input of limitsForm.querySelectorAll("input")) {
      input.value = input.defaultValue = String(limits[input.name]);
    }
    say("limits", `Saved: ${Object.keys(change).map((name) => `${name.toUpperCase()} ${limits[name]}`).join(", ")}`);
  } catch (error) {
    for (const name of Object.keys(change)) {
      if (error.message.includes(name)) limitsForm.elements[name].setAttribute("aria-invalid", "true");
    }
    say("limits", `Not saved: ${error.message}`, true);
  } finally {
    button.disabled = false;
    refresh();
  }
});

setInterval(refresh, REFRESH_MS);
