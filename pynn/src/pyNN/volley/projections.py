"""Projections: PyNN's connectors as volley's connection rules, drawn by volley from its
keyed streams at the build (so the same network on any number of threads), not listed
synapse by synapse in Python. A connector volley has no rule for raises
NotImplementedError naming it."""

from __future__ import annotations

from pyNN import common, connectors
from pyNN.space import Space

from . import simulator
from .standardmodels import StaticSynapse


def volley_rule(connector, same_population):
    """The `connection` table of `connector`, or None where volley has no such rule."""
    autapses = connector.allow_self_connections if hasattr(connector, "allow_self_connections") else True
    if not isinstance(autapses, bool):
        return None  # 'NoMutual'
    if type(connector) is connectors.AllToAllConnector:
        return {"rule": "all_to_all", "autapses": autapses}
    if type(connector) is connectors.FixedProbabilityConnector:
        return {"rule": "fixed_probability", "p": float(connector.p_connect), "autapses": autapses}
    if type(connector) is connectors.OneToOneConnector:
        return {"rule": "one_to_one"}
    if type(connector) in (connectors.FixedNumberPreConnector, connectors.FixedNumberPostConnector):
        if not isinstance(connector.n, int):
            return None
        rule = "fixed_indegree" if type(connector) is connectors.FixedNumberPreConnector else "fixed_outdegree"
        return {"rule": rule, "k": connector.n, "autapses": autapses, "multapses": bool(connector.with_replacement)}
    if type(connector) is connectors.FixedTotalNumberConnector:
        # PyNN 0.13 draws with replacement whatever with_replacement says (as NEST's rule).
        return {"rule": "fixed_total_number", "n": int(connector.n), "autapses": autapses}
    return None


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None, source=None,
                 receptor_type=None, space=Space(), label=None):
        super().__init__(presynaptic_population, postsynaptic_population, connector, synapse_type, source, receptor_type, space, label)
        for side, population in (("presynaptic", self.pre), ("postsynaptic", self.post)):
            if not isinstance(population, common.Population):
                raise NotImplementedError(f"pyNN.volley projects between whole Populations: the {side} side is a {type(population).__name__}")
        self.connection = volley_rule(connector, self.pre is self.post)
        if self.connection is None:
            raise NotImplementedError(f"pyNN.volley has no connection rule for {type(connector).__name__} with these arguments")
        if type(self.synapse_type) is not StaticSynapse:
            raise NotImplementedError(f"pyNN.volley supports StaticSynapse, not {type(self.synapse_type).__name__}")
        simulator.state.add_projection(self)

    def __len__(self):
        """The synapses the rule makes; for FixedProbability, its expected number (volley
        draws them at the build)."""
        n_pre, n_post = self.pre.size, self.post.size
        c = self.connection
        self_pairs = n_pre if (self.pre is self.post and not c.get("autapses", True)) else 0
        return {
            "all_to_all": n_pre * n_post - self_pairs,
            "fixed_probability": round((n_pre * n_post - self_pairs) * c.get("p", 0.0)),
            "one_to_one": min(n_pre, n_post),
            "fixed_indegree": c.get("k", 0) * n_post,
            "fixed_outdegree": c.get("k", 0) * n_pre,
            "fixed_total_number": c.get("n", 0),
        }[c["rule"]]

    def _convergent_connect(self, *args, **kwargs):
        raise NotImplementedError("pyNN.volley draws synapses with its own rules, not synapse by synapse")

    def _get_attributes_as_list(self, names):
        raise NotImplementedError("pyNN.volley: reading a projection's weights and delays is not supported yet")

    def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
        raise NotImplementedError("pyNN.volley: reading a projection's weights and delays is not supported yet")

    def _set_attributes(self, parameter_space):
        raise NotImplementedError("pyNN.volley: changing a projection's weights is not supported yet")
