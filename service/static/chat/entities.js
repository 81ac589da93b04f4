// "Who and what the coach keeps track of": the people, places, goals, habits and events of
// the user's memory graph, each with the other names it goes by.

import { api } from "./api.js";

const el = (tag, props = {}, ...children) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

export async function loadEntities(box) {
  const { nodes } = await api("GET", "/api/v1/memory/graph");
  if (!nodes.length) {
    box.replaceChildren();
    return;
  }
  const items = nodes.map((n) => {
    const item = el("li", {},
      el("span", { className: "kind", textContent: n.kind }),
      el("span", { className: "content", textContent: ` ${n.name}` }),
      el("span", { className: "meta", textContent: n.aliases.length ? ` · also “${n.aliases.join("”, “")}”` : "" }));
    item.dataset.testid = "entity-item";
    return item;
  });
  box.replaceChildren(el("h3", { textContent: "Who and what the coach keeps track of" }), el("ul", { className: "entities" }, ...items));
}
