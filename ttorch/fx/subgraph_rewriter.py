"""fx.subgraph_rewriter.replace_pattern: find a pattern's graph in a GraphModule and splice in a replacement.

PyTorch's matching for simple patterns: a pattern is traced with ``symbolic_trace``; its placeholders match
any value, every other node must have the same opcode and target and equal constant arguments, matches do
not overlap, and a matched node other than the pattern's outputs may have no user outside the match.
Difference from PyTorch: patterns with several outputs must return a tuple or list of them (also PyTorch's
case); ``match_filters``/``replacement_callback`` (``replace_pattern_with_filters``) are not provided.
"""
from typing import NamedTuple

from .node import Node


class Match(NamedTuple):
    anchor: Node            # the pattern's (first) output node, from which the match was found
    nodes_map: dict         # pattern node -> graph node (inputs replaced by earlier matches are updated)


def _outputs(graph):
    out = next(n for n in graph.nodes if n.op == "output")
    val = out.args[0]
    return list(val) if isinstance(val, (tuple, list)) else [val]


def _match(pn, gn, nodes_map):
    """Match pattern node ``pn`` to graph node ``gn``, extending ``nodes_map``; False when they differ."""
    if pn in nodes_map:
        return nodes_map[pn] is gn
    if pn.op == "placeholder":
        nodes_map[pn] = gn
        return True
    if pn.op != gn.op or pn.target != gn.target or len(pn.args) != len(gn.args) \
            or set(pn.kwargs) != set(gn.kwargs):
        return False
    nodes_map[pn] = gn
    pairs = list(zip(pn.args, gn.args)) + [(pn.kwargs[k], gn.kwargs[k]) for k in pn.kwargs]
    return all(_match_arg(a, b, nodes_map) for a, b in pairs)


def _match_arg(a, b, nodes_map):
    if isinstance(a, Node):
        return isinstance(b, Node) and _match(a, b, nodes_map)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and \
            all(_match_arg(x, y, nodes_map) for x, y in zip(a, b))
    return not isinstance(b, Node) and type(a) is type(b) and a == b


def _find_matches(graph, pattern_graph):
    p_outs = _outputs(pattern_graph)
    if not p_outs or not all(isinstance(p, Node) for p in p_outs):
        raise ValueError("the pattern must return one value or a tuple of values computed from its inputs")
    matches, claimed = [], set()
    for gn in graph.nodes:
        nodes_map = {}
        if not _match(p_outs[0], gn, nodes_map):
            continue
        # the other outputs must match some node too (tried in graph order)
        ok = True
        for p in p_outs[1:]:
            for cand in graph.nodes:
                trial = dict(nodes_map)
                if _match(p, cand, trial):
                    nodes_map = trial
                    break
            else:
                ok = False
        if not ok:
            continue
        internal = [g for p, g in nodes_map.items() if p.op != "placeholder"]
        if any(g in claimed for g in internal):
            continue
        out_set = {nodes_map[p] for p in p_outs}
        inside = set(internal)
        if any(u not in inside for g in internal if g not in out_set for u in g.users):
            continue
        # a placeholder of the pattern must not be bound to a matched internal node
        if any(g in inside for p, g in nodes_map.items() if p.op == "placeholder"):
            continue
        claimed.update(internal)
        matches.append(Match(anchor=p_outs[0], nodes_map=nodes_map))
    return matches


def replace_pattern(gm, pattern, replacement):
    """Replace every match of ``pattern`` in ``gm.graph`` by ``replacement``; returns the list of Matches.

    Args:
        gm (GraphModule): the module to rewrite in place (it is recompiled).
        pattern, replacement (callable or GraphModule): functions of the same inputs.

    Example::

        >>> import ttorch, ttorch.fx as fx
        >>> gm = fx.symbolic_trace(lambda x: ttorch.relu(x) * 2)
        >>> len(fx.replace_pattern(gm, lambda x: ttorch.relu(x), lambda x: ttorch.sigmoid(x)))
        1
    """
    from ._symbolic_trace import symbolic_trace
    from .graph_module import GraphModule
    p_graph = pattern.graph if isinstance(pattern, GraphModule) else symbolic_trace(pattern).graph
    r_gm = replacement if isinstance(replacement, GraphModule) else symbolic_trace(replacement)
    r_graph = r_gm.graph
    graph = gm.graph
    p_placeholders = [n for n in p_graph.nodes if n.op == "placeholder"]
    r_placeholders = [n for n in r_graph.nodes if n.op == "placeholder"]
    if len(p_placeholders) != len(r_placeholders):
        raise ValueError("pattern and replacement must take the same number of inputs")
    p_outs = _outputs(p_graph)
    matches = _find_matches(graph, p_graph)
    replaced = {}     # an earlier match's output -> its replacement (a later match may read it)
    for m in matches:
        for p in p_placeholders:
            if m.nodes_map.get(p) in replaced:
                m.nodes_map[p] = replaced[m.nodes_map[p]]
        val_map = {r: m.nodes_map[p] for p, r in zip(p_placeholders, r_placeholders) if p in m.nodes_map}
        g_outs = [m.nodes_map[p] for p in p_outs]
        first = next(n for n in graph.nodes if n in set(g_outs))
        with graph.inserting_before(first):
            for rn in r_graph.nodes:
                if rn.op == "get_attr":
                    gm_attr = r_gm
                    for atom in rn.target.split("."):
                        gm_attr = getattr(gm_attr, atom)
                    if not hasattr(gm, rn.target):
                        setattr(gm, rn.target, gm_attr)
            new_out = graph.graph_copy(r_graph, val_map)
        new_outs = list(new_out) if isinstance(new_out, (tuple, list)) else [new_out]
        for g, r in zip(g_outs, new_outs):
            g.replace_all_uses_with(r)
            replaced[g] = r
        for g in reversed(list(graph.nodes)):
            if g in m.nodes_map.values() and g not in val_map.values() and not g.users:
                graph.erase_node(g)
    gm.recompile()
    return matches
