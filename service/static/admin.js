// Live refresh for /admin: fetch the server-rendered panels every few seconds and swap
// them in; the buttons call the admin API with the session cookie (same origin, so the
// browser adds the Origin header the server checks).
const REFRESH_MS = 2000;
const panels = document.getElementById("panels");
const notice = document.getElementById("notice");
const refreshState = document.getElementById("refresh-state");

function say(text, bad = false) {
  notice.textContent = text;
  notice.classList.toggle("bad", bad);
  notice.hidden = false;
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
    refreshState.textContent = `live · ${new Date().toLocaleTimeString()}`;
    refreshState.classList.remove("bad");
  } catch (error) {
    refreshState.textContent = `refresh failed (${error.message}); retrying`;
    refreshState.classList.add("bad");
  }
}

async function post(path) {
  const response = await fetch(path, { method: "POST", credentials: "same-origin" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `HTTP ${response.status}`);
  return body;
}

panels.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  button.disabled = true;
  try {
    if (button.dataset.action === "requeue") {
      const { job_id } = await post(`/api/v1/admin/failed-jobs/${encodeURIComponent(button.dataset.id)}/requeue`);
      say(`Requeued as ${job_id}`);
    } else if (button.dataset.action === "run-cron") {
      const { job_id } = await post(`/api/v1/admin/crons/${encodeURIComponent(button.dataset.name)}/run`);
      say(`Started ${job_id}`);
    }
  } catch (error) {
    say(`Failed: ${error.message}`, true);
  } finally {
    button.disabled = false;
    refresh();
  }
});

setInterval(refresh, REFRESH_MS);
