"""Projections: PyNN's connectors as volley's connection rules, drawn by volley from its
keyed streams at the build (so the same network on any number of threads), not listed
synapse by synapse in Python. A connector volley has no rule for raises
NotImplementedError naming it."""

from __future__ import annotations

import numpy as np
from pyNN import common, connectors
from pyNN.space import Space

from . import simulator
from .standardmodels import STDPMechanism, StaticSynapse


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
        if type(self.synapse_type) not in (StaticSynapse, STDPMechanism):
            raise NotImplementedError(f"pyNN.volley supports StaticSynapse and STDPMechanism, not {type(self.synapse_type).__name__}")
        # Weights set (`set`), applied at each build of the network.
        self._pending_weights = []
        self._volley_index = None
        simulator.state.add_projection(self)

    def __len__(self):
        """The synapses the rule made, once built; before, the rule's count (for
        FixedProbability its expected number: volley draws them at the build)."""
        if simulator.state.sim is not None and getattr(self, "_volley_index", None) is not None:
            return len(simulator.state.sim.weights(self._volley_index)[0])
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

    def _synapses(self, sim=None):
        """(pre indices, post indices, weights in PyNN's units, delays in ms) of the
        synapses onto this rank's cells, by target; the network is built for it if it
        was not yet (volley draws the synapses at the build)."""
        if sim is None:
            simulator.state.build()
            sim = simulator.state.sim
        if getattr(self, "_volley_index", None) is None:
            raise NotImplementedError("pyNN.volley: a SpikeSourcePoisson's synapses are drawn inside its targets and cannot be read")
        sources, targets, weights, delays = sim.weights(self._volley_index)
        return sources.astype(np.int64), targets.astype(np.int64), weights.astype(float) / self.post.celltype.weight_scale, delays

    def _get_attributes_as_list(self, names):
        pre, post, weights, delays = self._synapses()
        columns = {"presynaptic_index": pre, "postsynaptic_index": post, "weight": weights, "delay": delays}
        # A mechanism's own parameters (STDP's), one value for all its synapses.
        fixed = self.synapse_type.native_parameters
        fixed.shape = (1,)
        fixed.evaluate(simplify=True)
        for name in names:
            if name not in columns and name in fixed.keys() and np.ndim(fixed[name]) == 0:
                columns[name] = np.full(len(pre), float(fixed[name]))
        for name in names:
            if name not in columns:
                raise NotImplementedError(f"pyNN.volley reads a projection's weight and delay, not {name}")
        return [tuple(row) for row in zip(*(columns[name].tolist() for name in names))]

    def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
        combine = common.Projection.MULTI_SYNAPSE_OPERATIONS[multiple_synapses]
        pre, post, weights, delays = self._synapses()
        out = []
        for name in names:
            values = {"weight": weights, "weights": weights, "delay": delays, "delays": delays}.get(name)
            if values is None:
                raise NotImplementedError(f"pyNN.volley reads a projection's weight and delay, not {name}")
            array = np.full((self.pre.size, self.post.size), np.nan)
            for i, j, v in zip(pre.tolist(), post.tolist(), values.tolist()):
                array[i, j] = v if np.isnan(array[i, j]) else combine(array[i, j], v)
            out.append(array)
        return out

    def _value_list_to_array(self, attributes):
        # PyNN reads the synapses to place a list of values; anything else needs no
        # synapses, and the network is not built for it.
        if any(isinstance(v, list) or (isinstance(v, np.ndarray) and v.ndim == 1) for v in attributes.values()):
            return super()._value_list_to_array(attributes)
        return attributes

    def _set_attributes(self, parameter_space):
        """New weights (delays are fixed at the build): set now if the network is built,
        and at every build after (the first run, or again after reset())."""
        names = set(parameter_space.keys())
        if names - {"weight"}:
            raise NotImplementedError(f"pyNN.volley sets a projection's weights, not {', '.join(sorted(names - {'weight'}))}: delays are fixed at the build")
        if getattr(self.pre.celltype, "volley_model", "") is None:
            raise NotImplementedError("pyNN.volley: a SpikeSourcePoisson's synapses are drawn inside its targets: set their weight when projecting")
        # Kept (unevaluated: each build reads the synapses it has), to be set again when
        # reset() builds the network anew.
        self._pending_weights.append(parameter_space)
        if simulator.state.sim is not None:
            self._apply_weights(parameter_space, simulator.state.sim)

    def _apply_weights(self, parameter_space, sim):
        """Sets every synapse's weight to its (pre, post) entry of `parameter_space`,
        evaluated at those entries only (the space itself left as it was)."""
        pre, post, _, _ = self._synapses(sim)
        weights = np.broadcast_to(np.asarray(parameter_space["weight"][pre, post], dtype=float), pre.shape)
        sim.set_weights(self._volley_index, weights * self.post.celltype.weight_scale)
