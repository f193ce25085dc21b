"""Social graphs: edge arrays generated or loaded from a dataset, as an nx.Graph or a CSR adjacency."""

from .adjacency import Adjacency
from .graphs import (
    SocialEdges,
    barabasi_albert,
    build_edges,
    build_graph,
    from_relations,
    homophily,
    homophily_edges,
    watts_strogatz,
)

__all__ = ["Adjacency", "SocialEdges", "barabasi_albert", "build_edges", "build_graph", "from_relations",
           "homophily", "homophily_edges", "watts_strogatz"]
