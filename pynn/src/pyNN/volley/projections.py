"""Projections: PyNN's connectors as volley's connection rules where the simulator is to
draw them (a NativeRNG, or no randomness: all to all, one to one), drawn by volley from
its keyed streams at the build (so the same network on any number of threads). Where
PyNN draws them (a connector or a weight with a Python generator, as PyNN gives every
connector without a NativeRNG), where volley has no rule for the connector (FromList,
FromFile, distance-dependent, ...) or its weights and delays are what volley cannot draw
(expressions of distance, functions, arrays), or a side is a PopulationView or an
Assembly, PyNN's own connector code lists the synapses in Python, as pyNN.nest has it
list them, and they become volley projections of listed synapses (`rule = "list"`)
between the populations the cells belong to."""

from __future__ import annotations

import numpy as np
from pyNN import common, connectors, errors
from pyNN.random import RandomDistribution
from pyNN.space import Space

from . import simulator
from .standardmodels import STDPMechanism, StaticSynapse


def _drawn_in_python(rng):
    """Whether PyNN draws with `rng` in Python (any generator but a NativeRNG; PyNN gives a
    connector without one a seeded NumpyRNG): then every PyNN backend makes the same
    draws, and so does this one."""
    from pyNN.random import NativeRNG

    return rng is not None and not isinstance(rng, NativeRNG)


def _check_list_indices(connector, pre_size, post_size):
    """A FromListConnector's cells within the projection's sides (PyNN's connector would
    leave out the connections of a cell beyond them without a word)."""
    listed = np.asarray(connector.conn_list, dtype=float)
    if listed.size == 0:
        return
    listed = listed.reshape(len(connector.conn_list), -1)
    for column, size, side in ((0, pre_size, "presynaptic"), (1, post_size, "postsynaptic")):
        bad = ~((listed[:, column] >= 0) & (listed[:, column] < size) & (listed[:, column] == np.round(listed[:, column])))
        if bad.any():
            k = int(np.argmax(bad))
            raise errors.ConnectionError(f"FromListConnector: connection {k} has {side} index {listed[k, column]:g}: expected 0 to {size - 1}")


def listed_by_pynn(connector, synapse_type):
    """Whether PyNN's own connector code must list the synapses, as pyNN.nest has it list
    them: the connector draws with a Python generator (PyNN's semantics: a NativeRNG hands
    the drawing to the simulator, any other draws in Python, the same synapses on every
    backend), or a weight or delay is what volley's rules cannot draw (a Python
    generator's distribution, an expression of distance, a function, an array). Plastic
    projections are volley's rules whatever the generator (volley draws them)."""
    if isinstance(synapse_type, STDPMechanism):
        return False
    if _drawn_in_python(getattr(connector, "rng", None)):
        return True
    space = synapse_type.parameter_space
    for name in ("weight", "delay"):
        value = space[name].base_value
        if isinstance(value, RandomDistribution) and _drawn_in_python(value.rng):
            return True
        if not isinstance(value, (RandomDistribution, int, float, np.number)):
            return True
    return False


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


_NATIVE_POISSON = (
    "pyNN.volley: this SpikeSourcePoisson drives its targets one to one as Poisson stimuli, its synapses inside them; "
    "to read or set them, set weights before the first run (its trains are then drawn as spike sources)"
)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population, postsynaptic_population, connector, synapse_type=None, source=None,
                 receptor_type=None, space=Space(), label=None):
        super().__init__(presynaptic_population, postsynaptic_population, connector, synapse_type, source, receptor_type, space, label)
        if type(self.synapse_type) not in (StaticSynapse, STDPMechanism):
            raise NotImplementedError(f"pyNN.volley supports StaticSynapse and STDPMechanism, not {type(self.synapse_type).__name__}")
        whole = isinstance(self.pre, common.Population) and isinstance(self.post, common.Population)
        native = whole and not listed_by_pynn(connector, self.synapse_type)
        self.connection = volley_rule(connector, self.pre is self.post) if native else None
        # Synapses listed by PyNN's connector where volley has no rule for it: per call of
        # _convergent_connect, (pre indices, post index, weights, delays) of this
        # projection's sides, PyNN's units.
        self._listed = None
        if self.connection is None:
            if isinstance(self.synapse_type, STDPMechanism):
                raise NotImplementedError(
                    f"pyNN.volley: plastic synapses are drawn by volley's rules, between whole Populations "
                    f"({type(connector).__name__} from a {type(self.pre).__name__} onto a {type(self.post).__name__} is listed)"
                )
            self._listed = []
            # A list checked as given (PyNN's connect sorts it by target); a
            # FromFileConnector's once connect has read it.
            listed = isinstance(connector, connectors.FromListConnector)
            if listed and hasattr(connector, "conn_list"):
                _check_list_indices(connector, self.pre.size, self.post.size)
            if type(connector) is connectors.OneToOneConnector:
                self._list_one_to_one()
            else:
                connector.connect(self)
            if listed:
                _check_list_indices(connector, self.pre.size, self.post.size)
        # Weights set (`set`), applied at each build of the network.
        self._pending_weights = []
        # The volley projections it is, once built: (index, pre population, post population).
        self._parts = []
        # Whether it is, once built, Poisson stimuli of its targets (`build._drives_as_stimuli`).
        self._native_poisson = False
        simulator.state.add_projection(self)

    def __len__(self):
        """The synapses made, once built (or listed); before, the rule's count (for
        FixedProbability its expected number: volley draws them at the build)."""
        if self._listed is not None:
            return sum(len(pre) for pre, *_ in self._listed)
        if simulator.state.sim is not None and self._parts:
            return len(simulator.state.sim.weights(self._parts[0][0])[0])
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

    def _convergent_connect(self, presynaptic_indices, postsynaptic_index, location_selector=None, **connection_parameters):
        """One postsynaptic cell's synapses, as PyNN's connector lists them."""
        if location_selector is not None:
            raise NotImplementedError("pyNN.volley: point neurons only (no location selector)")
        pre = np.atleast_1d(np.asarray(presynaptic_indices))
        pre = np.flatnonzero(pre) if pre.dtype == bool else pre.astype(np.int64)
        n = len(pre)
        weights = np.broadcast_to(np.asarray(connection_parameters["weight"], dtype=float), (n,)).copy()
        delays = np.broadcast_to(np.asarray(connection_parameters["delay"], dtype=float), (n,)).copy()
        self._listed.append((pre, int(postsynaptic_index), weights, delays))

    def _list_one_to_one(self):
        """OneToOneConnector between sides that are not whole populations: the pairs i → i
        listed here, each synapse's parameters evaluated as PyNN's connectors evaluate
        them (PyNN 0.13.0's own code fails on a one-cell side under NumPy 2)."""
        parameters = self.synapse_type.native_parameters
        parameters.shape = (self.pre.size, self.post.size)
        for k in range(min(self.pre.size, self.post.size)):
            sources = np.array([k])
            values = {name: (m.evaluate(simplify=True) if m.is_homogeneous else m[sources, k]) for name, m in parameters.items()}
            self._convergent_connect(sources, k, **values)

    def listed_parts(self):
        """The listed synapses by (pre population, post population): for each pair, the
        parent-local (sources, targets), the weights (PyNN's units) and the delays (ms)."""
        if isinstance(self.pre, common.Population) and isinstance(self.post, common.Population):
            # Whole populations (a connector with a Python generator): indices are ids.
            if sum(len(pre) for pre, *_ in self._listed) == 0:
                return []
            sources, weights, delays = (np.concatenate([part[k] for part in self._listed]) for k in (0, 2, 3))
            targets = np.concatenate([np.full(len(pre), post) for pre, post, *_ in self._listed])
            return [(self.pre, self.post, sources, targets, weights.astype(float), delays.astype(float))]
        pre_cells, post_cells = cells_by_index(self.pre), cells_by_index(self.post)
        parts = {}
        for pre, post, weights, delays in self._listed:
            post_population, target = post_cells[post]
            for k, i in enumerate(pre.tolist()):
                pre_population, source = pre_cells[i]
                part = parts.setdefault((id(pre_population), id(post_population)), (pre_population, post_population, [], [], [], []))
                part[2].append(source)
                part[3].append(target)
                part[4].append(float(weights[k]))
                part[5].append(float(delays[k]))
        return list(parts.values())

    def _synapses(self, sim=None):
        """(pre indices, post indices, weights in PyNN's units, delays in ms) of the
        synapses onto this rank's cells (indices of this projection's sides); the network
        is built for it if it was not yet (volley draws the synapses at the build)."""
        if sim is None:
            simulator.state.build()
            sim = simulator.state.sim
        if self._native_poisson:
            raise NotImplementedError(_NATIVE_POISSON)
        pre_side, post_side = side_index(self.pre), side_index(self.post)
        columns = [[], [], [], []]
        for index, pre_population, post_population in self._parts:
            sources, targets, weights, delays = sim.weights(index)
            columns[0].append(pre_side[id(pre_population)][sources.astype(np.int64)])
            columns[1].append(post_side[id(post_population)][targets.astype(np.int64)])
            columns[2].append(weights.astype(float) / post_population.celltype.weight_scale)
            columns[3].append(np.asarray(delays, dtype=float))
        if not columns[0]:
            return np.array([], np.int64), np.array([], np.int64), np.array([]), np.array([])
        return tuple(np.concatenate(c) for c in columns)

    def _get_attributes_as_list(self, names):
        pre, post, weights, delays = self._synapses()
        columns = {"presynaptic_index": pre, "postsynaptic_index": post, "weight": weights, "delay": delays}
        # A mechanism's own parameters (STDP's), one value for all its synapses: read only
        # where asked for.
        if any(name not in columns for name in names):
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
        if simulator.state.sim is not None and self._native_poisson:
            raise NotImplementedError(_NATIVE_POISSON)
        # Kept (unevaluated: each build reads the synapses it has), to be set again when
        # reset() builds the network anew.
        self._pending_weights.append(parameter_space)
        if simulator.state.sim is not None:
            self._apply_weights(parameter_space, simulator.state.sim)

    def _apply_weights(self, parameter_space, sim):
        """Sets every synapse's weight to its (pre, post) entry of `parameter_space`,
        evaluated at those entries only (the space itself left as it was)."""
        pre_side, post_side = side_index(self.pre), side_index(self.post)
        for index, pre_population, post_population in self._parts:
            sources, targets, _, _ = sim.weights(index)
            pre = pre_side[id(pre_population)][sources.astype(np.int64)]
            post = post_side[id(post_population)][targets.astype(np.int64)]
            if len(pre) == 0:
                continue
            weights = np.broadcast_to(np.asarray(parameter_space["weight"][pre, post], dtype=float), pre.shape)
            sim.set_weights(index, weights * post_population.celltype.weight_scale)


def cells_by_index(side):
    """For each index of a Population, PopulationView or Assembly: (its cell's
    population, the cell's index there)."""
    return [(cell.parent, int(cell) - int(cell.parent.first_id)) for cell in side.all_cells]


def side_index(side):
    """{id(population): array mapping its cells' indices to their index in `side` (−1:
    not in it)}."""
    maps = {}
    for k, (population, index) in enumerate(cells_by_index(side)):
        maps.setdefault(id(population), np.full(population.size, -1, dtype=np.int64))[index] = k
    return maps
