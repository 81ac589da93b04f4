// "What the coach holds true": one record per fact, as the coach uses it. The user can
// correct a fact (a new version), delete it (retracted: never used again) and read how it
// came to be (its history: every version, who changed it and when).

import { api } from "./api.js";

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};
const day = (iso) => (iso ? new Date(iso).toLocaleDateString() : "");
const BY = { user: "you", extraction: "the coach, from a session", consolidation: "the coach, from a later session" };

function button(text, testid, label, onClick) {
  const b = el("button", { type: "button", className: "link", textContent: text });
  b.dataset.testid = testid;
  b.setAttribute("aria-label", label);
  b.addEventListener("click", onClick);
  return b;
}

async function showHistory(memory, item) {
  const open = item.querySelector(".history");
  if (open) return open.remove();
  const { versions } = await api("GET", `/api/v1/memory/points/${memory.id}/history`);
  const rows = versions.map((v) => el("li", {}, el("span", { className: "meta", textContent: `${new Date(v.changed_at).toLocaleString()} · ${BY[v.changed_by] || v.changed_by} · ${v.status}` }), el("div", { textContent: v.content })));
  const list = el("ol", { className: "history" }, ...rows);
  list.setAttribute("aria-label", `History of “${memory.content}”`);
  item.append(list);
}

function editForm(memory, item, reload, report) {
  const text = el("textarea", { value: memory.content, rows: 2, maxLength: 1000, required: true });
  text.setAttribute("aria-label", `New wording for “${memory.content}”`);
  text.dataset.testid = "memory-edit-text";
  const save = el("button", { type: "submit", textContent: "Save" });
  save.dataset.testid = "memory-edit-save";
  const cancel = el("button", { type: "button", className: "link", textContent: "Cancel" });
  const form = el("form", { className: "edit" }, text, save, cancel);
  cancel.addEventListener("click", () => form.remove());
  form.addEventListener("keydown", (e) => { if (e.key === "Escape") form.remove(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", `/api/v1/memory/points/${memory.id}`, { content: text.value.trim() });
      report(`Corrected: ${text.value.trim()}.`);
      await reload();
    } catch (error) {
      report(error.message, true);
    }
  });
  item.append(form);
  text.focus();
}

function factItem(memory, reload, report) {
  const when = [memory.said_at ? `said ${day(memory.said_at)}` : "", memory.valid_from ? `for ${day(memory.valid_from)}` : ""].filter(Boolean).join(" · ");
  const item = el("li", {},
    el("div", {},
      el("span", { className: "kind", textContent: memory.kind }),
      el("div", { className: "content", textContent: memory.content }),
      el("div", { className: "meta", textContent: `${when}${when ? " · " : ""}mentioned ${memory.mentions}×` })),
    el("div", { className: "actions" },
      button("Edit", "memory-edit", `Edit: ${memory.content}`, () => editForm(memory, item, reload, report)),
      button("History", "memory-history", `History of: ${memory.content}`, () => showHistory(memory, item).catch((e) => report(e.message, true))),
      button("Delete", "memory-delete", `Delete: ${memory.content}`, async () => {
        try {
          await api("DELETE", `/api/v1/memory/points/${memory.id}`);
          report(`Deleted: ${memory.content}.`);
          await reload();
        } catch (error) {
          report(error.message, true);
        }
      })));
  item.dataset.testid = "fact-item";
  return item;
}

export async function loadFacts(box, report) {
  const reload = () => loadFacts(box, report);
  const { memories } = await api("GET", "/api/v1/memory/points?status=active&limit=100");
  if (!memories.length) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(
    el("h3", { textContent: "What the coach holds true" }),
    el("p", { className: "hint", textContent: "One line per fact. Correct one and the coach uses your words from the next message on." }),
    el("ul", {}, ...memories.map((m) => factItem(m, reload, report))));
}
