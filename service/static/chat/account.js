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

// The confirmation opens with focus on Cancel, so Enter, Enter cannot delete an account;
// Escape or Cancel closes it and puts focus back on the button that opened it.
export function setUpAccount(onDeleted) {
  const ask = document.getElementById("delete-account");
  const box = document.getElementById("confirm-box");
  const cancel = document.getElementById("cancel-delete");
  const confirm = document.getElementById("confirm-delete");
  const error = document.getElementById("account-error");
  const close = () => {
    box.hidden = true;
    ask.hidden = false;
    ask.focus();
  };
  ask.addEventListener("click", () => {
    box.hidden = false;
    ask.hidden = true;
    cancel.focus();
  });
  cancel.addEventListener("click", close);
  box.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  confirm.addEventListener("click", async () => {
    error.textContent = "";
    confirm.disabled = true;
    try {
      await api("DELETE", "/api/v1/account");
      box.hidden = true;
      ask.hidden = false;
      onDeleted();
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      confirm.disabled = false;
    }
  });
}
