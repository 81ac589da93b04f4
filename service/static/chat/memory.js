// "What the coach remembers": each session's stored points with their strength, the
// summaries and reflections; a point or a whole session's memory can be forgotten.

import { api } from "./api.js";
import { loadEntities } from "./entities.js";
import { loadFacts } from "./facts.js";

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "never");

function strength(value, label) {
  const meter = el("meter", { min: 0, max: 1, value: Math.max(0, Math.min(1, value)), title: `${Math.round(value * 100)}%` });
  meter.setAttribute("aria-label", label);
  return el("span", { className: "meta" }, meter, ` ${Math.round(value * 100)}%`);
}

function showError(message) {
  document.getElementById("memory-error").textContent = message;
}

async function forget(path, what) {
  showError("");
  try {
    await api("DELETE", path);
    document.getElementById("status").textContent = `Forgotten: ${what}.`;
    await loadMemory();
  } catch (error) {
    showError(error.message);
  }
}

function contextCard(context) {
  const title = `Session of ${when(context.created_at)}`;
  const forgetAll = el("button", { type: "button", className: "link", textContent: "Forget this session" });
  forgetAll.dataset.testid = "forget-session";
  forgetAll.addEventListener("click", () => forget(`/api/v1/memory/contexts/${context.id}`, title));
  const points = el("ul");
  for (const point of context.points) {
    const button = el("button", { type: "button", className: "link", textContent: "Forget" });
    button.setAttribute("aria-label", `Forget: ${point.content}`);
    button.dataset.testid = "forget-point";
    button.addEventListener("click", () => forget(`/api/v1/memory/contexts/${context.id}/points/${encodeURIComponent(point.key)}`, point.content));
    const item = el(
      "li", {},
      el("div", {},
        el("span", { className: "kind", textContent: point.kind }),
        el("div", { className: "content", textContent: point.content }),
        el("div", { className: "meta", textContent: `Last reinforced ${when(point.last_seen_at)} · mentioned ${point.mentions ?? 1}×` }),
        strength(point.score, `Strength of “${point.content}”`)),
      button,
    );
    item.dataset.testid = "memory-item";
    points.append(item);
  }
  return el("article", { className: "context" },
    el("h3", { textContent: title }),
    el("p", { className: "meta" }, "Session strength ", strength(context.strength, `Strength of ${title}`), ` · updated ${when(context.updated_at)}` + (context.model ? ` · extracted by ${context.model}` : "")),
    forgetAll, points);
}

function report(message, isError = false) {
  if (isError) return showError(message);
  showError("");
  document.getElementById("status").textContent = message;
}

export async function loadMemory() {
  await loadFacts(document.getElementById("memory-facts"), report);
  await loadEntities(document.getElementById("memory-entities"));
  const list = document.getElementById("memory-list");
  const memory = await api("GET", "/api/v1/memory");
  const parts = [];
  if (!memory.contexts.length && !memory.summaries.length) {
    parts.push(el("p", { textContent: "Nothing yet. The coach stores what mattered once a session ends (sign out, or a while after your last message)." }));
  }
  parts.push(...memory.contexts.map(contextCard));
  if (memory.summaries.length) {
    parts.push(el("h3", { textContent: "Summaries of older sessions" }));
    for (const summary of memory.summaries) {
      parts.push(el("article", { className: "context" },
        el("p", { textContent: summary.text }),
        el("p", { className: "meta" }, "Strength ", strength(summary.strength, "Strength of this summary"), ` · written ${when(summary.created_at)}`)));
    }
  }
  if ((memory.reflections || []).length) {
    parts.push(el("h3", { textContent: "Patterns the coach noticed" }));
    for (const reflection of memory.reflections) {
      const insights = el("ul", {}, ...reflection.insights.map((i) => el("li", {}, el("span", { className: "kind", textContent: i.kind }), el("div", { textContent: i.text }))));
      parts.push(el("article", { className: "context" }, insights, el("p", { className: "meta" }, "Strength ", strength(reflection.strength, "Strength of this reflection"))));
    }
  }
  list.replaceChildren(...parts);
}

// Search: the same ranking the coach's recall uses, with why each memory came up.
function reasonsText(reasons) {
  const parts = [];
  if (reasons.lexical) parts.push(`words ${Math.round(reasons.lexical * 100)}%`);
  if (reasons.entity) parts.push("names someone or something you mentioned");
  if (reasons.dense) parts.push(`meaning ${Math.round(reasons.dense * 100)}%`);
  parts.push(`strength ${Math.round(reasons.strength * 100)}%`);
  return parts.join(" · ");
}

async function searchMemory(event) {
  event.preventDefault();
  showError("");
  const q = document.getElementById("memory-search").value.trim();
  const box = document.getElementById("memory-search-results");
  if (!q) return;
  try {
    const { results } = await api("GET", `/api/v1/memory/search?q=${encodeURIComponent(q)}&limit=10`);
    const items = results.map((r) => {
      const item = el("li", {},
        el("span", { className: "kind", textContent: r.kind }),
        el("div", { className: "content", textContent: r.content }),
        el("div", { className: "meta", textContent: (r.said_at ? `Said ${when(r.said_at)} · ` : "") + reasonsText(r.reasons) }));
      item.dataset.testid = "memory-item";
      return item;
    });
    box.replaceChildren(
      el("h3", { textContent: results.length ? `Best matches for “${q}”` : `Nothing matches “${q}”.` }),
      el("ul", {}, ...items));
  } catch (error) {
    showError(error.message);
  }
}

document.getElementById("memory-search-form")?.addEventListener("submit", searchMemory);
