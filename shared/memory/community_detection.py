"""Grouping one user's entity graph into communities: networkx's Louvain, seeded.

Louvain is randomized (node order, tie-breaks), so the seed and a sorted node order make a
graph give the same groups on every run. A community is two or more entities; an entity
with no relation stays outside any. Each group's label is the names of its two most
mentioned entities: no LLM call, so it is the same with the offline provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from shared.store.communities import Community

LOUVAIN_SEED = 15
LABEL_NAMES = 2


def entity_graph(entities: Iterable[Mapping[str, Any]], relations: Iterable[Mapping[str, Any]]) -> nx.Graph:
    """Undirected and weighted: edges both ways between two entities add up."""
    graph = nx.Graph()
    for entity in sorted(entities, key=lambda e: str(e["_id"])):
        graph.add_node(str(entity["_id"]), name=entity["name"], mentions=entity.get("mentions", 1))
    for relation in relations:
        a, b = str(relation["source_id"]), str(relation["target_id"])
        if a == b or a not in graph or b not in graph:
            continue
        weight = graph.edges[a, b]["weight"] if graph.has_edge(a, b) else 0
        graph.add_edge(a, b, weight=weight + relation.get("weight", 1))
    return graph


def label(graph: nx.Graph, members: Iterable[str]) -> str:
    ranked = sorted(members, key=lambda n: (-graph.nodes[n]["mentions"], graph.nodes[n]["name"]))
    return " & ".join(graph.nodes[n]["name"] for n in ranked[:LABEL_NAMES])


def detect(graph: nx.Graph, seed: int = LOUVAIN_SEED) -> list[Community]:
    if graph.number_of_edges() == 0:
        return []
    found = nx.community.louvain_communities(graph, weight="weight", seed=seed)
    groups = sorted((sorted(c) for c in found if len(c) >= 2), key=lambda c: (-len(c), c[0]))
    return [Community(index=i, label=label(graph, members), entity_ids=members) for i, members in enumerate(groups)]
