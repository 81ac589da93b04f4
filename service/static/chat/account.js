// Usage (tokens per day) and the account: download everything, delete everything.

import { api } from "./api.js";

export async function loadUsage() {
  const body = document.querySelector("#usage-table tbody");
  document.getElementById("usage-error").textContent = "";
  const report = await api("GET", "/api/v1/usage?days=14");
  const rows = report.daily.map((row) => {
    const tr = document.createElement("tr");
    for (const [value, numeric] of [[row.day, false], [row.purpose, false], [row.input_tokens.toLocaleString(), true], [row.output_tokens.toLocaleString(), true]]) {
      const td = document.createElement("td");
      td.textContent = value;
      if (numeric) td.className = "num";
      tr.append(td);
    }
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = Object.assign(document.createElement("td"), { colSpan: 4, textContent: "No model calls in the last 14 days." });
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

export function setUpAccount(onDeleted) {
  const ask = document.getElementById("delete-account");
  const confirm = document.getElementById("confirm-delete");
  const error = document.getElementById("account-error");
  ask.addEventListener("click", () => {
    confirm.hidden = false;
    confirm.focus();
  });
  confirm.addEventListener("click", async () => {
    error.textContent = "";
    confirm.disabled = true;
    try {
      await api("DELETE", "/api/v1/account");
      confirm.hidden = true;
      onDeleted();
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      confirm.disabled = false;
    }
  });
}
