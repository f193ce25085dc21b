"""Social graphs (NetworkX): generated or loaded from a dataset."""

from .graphs import barabasi_albert, build_graph, from_relations, homophily, watts_strogatz

__all__ = ["barabasi_albert", "build_graph", "from_relations", "homophily", "watts_strogatz"]
