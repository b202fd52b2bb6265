"""PyNN's standard models on volley: each cell type names the volley model that runs it
exactly (NEST's models, which volley's LIF models reproduce step for step), with the
translation of PyNN's names and units into that model's (NEST's names in lower case,
pF, pA, mV, ms). Synapses and current sources keep PyNN's names and units; `build.py`
converts them where it writes the model."""

from __future__ import annotations

from pyNN.standardmodels import build_translations, cells, electrodes, synapses

from .simulator import state

# Translations shared by the current-based integrate-and-fire types: NEST's, as pyNN.nest
# has them (cm nF → c_m pF, i_offset nA → i_e pA).
_LIF = (
    ("v_rest", "e_l"),
    ("v_reset", "v_reset"),
    ("cm", "c_m", 1000.0),
    ("tau_m", "tau_m"),
    ("tau_refrac", "t_ref"),
    ("v_thresh", "v_th"),
    ("i_offset", "i_e", 1000.0),
)
_SYNAPTIC = (("tau_syn_E", "tau_syn_ex"), ("tau_syn_I", "tau_syn_in"))
# The parameters volley's LIF models (iaf_psc_exp, iaf_psc_alpha, iaf_psc_delta,
# iaf_cond_exp, iaf_cond_alpha) hold per neuron (each neuron its own propagators, as NEST's nodes have):
# those may differ between cells.
_PER_CELL = frozenset({"e_l", "v_reset", "c_m", "tau_m", "g_l", "t_ref", "v_th", "i_e"})


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__
    volley_model = "iaf_psc_exp"
    translations = build_translations(*_LIF, *_SYNAPTIC)
    per_cell = _PER_CELL
    # Where tau_syn_I ≠ tau_syn_E, inhibitory weights decay in a current of their own (the
    # synapse model its inhibitory projections name), as NEST routes them by sign.
    inhibitory_current = "exp_current"
    # Weights in nA, as a current; volley's (NEST's) are pA.
    weight_scale = 1000.0


class IF_curr_alpha(cells.IF_curr_alpha):
    __doc__ = cells.IF_curr_alpha.__doc__
    volley_model = "iaf_psc_alpha"
    translations = build_translations(*_LIF, *_SYNAPTIC)
    per_cell = _PER_CELL
    inhibitory_current = "alpha_current"
    weight_scale = 1000.0


class IF_curr_delta(cells.IF_curr_delta):
    __doc__ = cells.IF_curr_delta.__doc__
    volley_model = "iaf_psc_delta"
    translations = build_translations(*_LIF)
    per_cell = _PER_CELL
    # Weights are jumps of v in mV, as in NEST's iaf_psc_delta.
    weight_scale = 1.0


class IF_cond_exp(cells.IF_cond_exp):
    """On volley: NEST's iaf_cond_exp (volley's model of that name). Its synaptic time
    constants and reversal potentials are those of the conductances its projections
    name: an excitatory projection onto it is an exp_conductance synapse with tau_syn_E
    and e_rev_E, an inhibitory one with tau_syn_I and e_rev_I; weights in µS, positive
    for both (nS in volley)."""

    __doc__ = (cells.IF_cond_exp.__doc__ or "") + (__doc__ or "")
    volley_model = "iaf_cond_exp"
    per_cell = _PER_CELL
    translations = build_translations(
        ("v_rest", "e_l"),
        ("v_reset", "v_reset"),
        ("cm", "c_m", 1000.0),
        ("tau_m", "g_l", "cm/tau_m*1000.0", "c_m/g_l"),
        ("tau_refrac", "t_ref"),
        ("v_thresh", "v_th"),
        ("i_offset", "i_e", 1000.0),
        ("tau_syn_E", "tau_syn_ex"),
        ("tau_syn_I", "tau_syn_in"),
        ("e_rev_E", "e_ex"),
        ("e_rev_I", "e_in"),
    )
    # µS → nS.
    weight_scale = 1000.0
    # The synapse's own parameters, not the population's (volley's synaptic kinds), and
    # the synapse model the projections onto it name.
    synaptic_parameters = {"excitatory": ("tau_syn_ex", "e_ex"), "inhibitory": ("tau_syn_in", "e_in")}
    synapse_model = "exp_conductance"


class IF_cond_alpha(cells.IF_cond_alpha):
    """On volley: NEST's iaf_cond_alpha (volley's model of that name): IF_cond_exp's
    membrane, each projection onto it an alpha_conductance synapse (g peaking at the
    weight tau_syn after a spike) with tau_syn_E and e_rev_E, or tau_syn_I and e_rev_I;
    weights in µS, positive for both."""

    __doc__ = (cells.IF_cond_alpha.__doc__ or "") + (__doc__ or "")
    volley_model = "iaf_cond_alpha"
    per_cell = _PER_CELL
    translations = IF_cond_exp.translations
    weight_scale = IF_cond_exp.weight_scale
    synaptic_parameters = IF_cond_exp.synaptic_parameters
    synapse_model = "alpha_conductance"


class HH_cond_exp(cells.HH_cond_exp):
    """On volley: NEST's hh_cond_exp_traub (volley's model of that name, Traub and Miles'
    kinetics); synapses as IF_cond_exp's: each projection onto it an exp_conductance
    synapse with the cells' tau_syn_E/e_rev_E or tau_syn_I/e_rev_I, weights in µS."""

    __doc__ = (cells.HH_cond_exp.__doc__ or "") + (__doc__ or "")
    volley_model = "hh_cond_exp_traub"
    translations = build_translations(
        ("gbar_Na", "g_na", 1000.0),
        ("gbar_K", "g_k", 1000.0),
        ("g_leak", "g_l", 1000.0),
        ("cm", "c_m", 1000.0),
        ("v_offset", "v_t"),
        ("e_rev_Na", "e_na"),
        ("e_rev_K", "e_k"),
        ("e_rev_leak", "e_l"),
        ("e_rev_E", "e_ex"),
        ("e_rev_I", "e_in"),
        ("tau_syn_E", "tau_syn_ex"),
        ("tau_syn_I", "tau_syn_in"),
        ("i_offset", "i_e", 1000.0),
    )
    # Its membrane parameters may differ between cells (volley holds them per neuron
    # where they do); the synaptic ones are the projections' synapses.
    per_cell = frozenset({"g_na", "g_k", "g_l", "c_m", "v_t", "e_na", "e_k", "e_l", "i_e"})
    weight_scale = 1000.0
    synaptic_parameters = IF_cond_exp.synaptic_parameters
    synapse_model = IF_cond_exp.synapse_model


class Izhikevich(cells.Izhikevich):
    """On volley: NEST's izhikevich (volley's `izhikevich_nest`: forward Euler on the
    state each step begins with, NEST's default; volley's own `izhikevich` is net.m's
    stepping). Weights are jumps of v in mV, as on pyNN.nest."""

    __doc__ = (cells.Izhikevich.__doc__ or "") + (__doc__ or "")
    volley_model = "izhikevich_nest"
    translations = build_translations(("a", "a"), ("b", "b"), ("c", "c"), ("d", "d"), ("i_offset", "i_e", 1000.0))
    # Each may differ between cells (volley holds them per neuron where they do).
    per_cell = frozenset({"a", "b", "c", "d", "i_e"})
    weight_scale = 1.0


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    """Poisson spike trains. Where they drive whole current-based populations of their
    size one to one (as in Brunel's and the microcircuit's scripts), static, at one rate
    from 0 to the end and unrecorded, each is a Poisson stimulus of its target: the same
    statistics as NEST's poisson_generator and parrot neuron, drawn from volley's keyed
    streams, at no cost per spike. Otherwise (any connector, conductance-based targets,
    start and duration, rates per cell, recorded, rates set between runs) they are a
    `spike_source` population replaying trains pyNN.volley draws before each run: a
    Poisson process per cell, at most one spike a step, from streams keyed by the seed,
    the population and the block of time (the same trains however the runs split it)."""

    __doc__ = (cells.SpikeSourcePoisson.__doc__ or "") + (__doc__ or "")
    volley_model = None
    translations = build_translations(("rate", "rate"), ("start", "start"), ("duration", "duration"))


class SpikeSourceArray(cells.SpikeSourceArray):
    """Spike trains given per cell. On volley a population of them is a `spike_source`
    population replaying a SONATA spike file that pyNN.volley writes at the build: each
    time the end of the step its spike is in (a time between steps goes to the end of
    its step, as NEST puts it), each cell spiking at most once a step."""

    __doc__ = (cells.SpikeSourceArray.__doc__ or "") + (__doc__ or "")
    volley_model = "spike_source"
    translations = build_translations(("spike_times", "spike_times"))


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def _get_minimum_delay(self):
        return state.dt if state.min_delay == "auto" else state.min_delay


class STDPMechanism(synapses.STDPMechanism):
    """On volley: the `stdp` rule (NEST's stdp_synapse: pair-based, all-to-all pairing,
    the weight dependence of Gütig et al.), with PyNN's A_plus as lambda, A_minus/A_plus
    as alpha and w_max as Wmax (in the projection's weight unit; w_min 0). volley's
    delays are axonal: PyNN's `dendritic_delay_fraction=0` (the presynaptic spike seen
    after the delay, the postsynaptic one at once); pyNN.nest takes them as dendritic
    (1, PyNN's default), which volley does not offer."""

    __doc__ = (synapses.STDPMechanism.__doc__ or "") + (__doc__ or "")
    base_translations = build_translations(
        ("weight", "weight"), ("delay", "delay"), ("dendritic_delay_fraction", "dendritic_delay_fraction")
    )

    def __init__(self, timing_dependence=None, weight_dependence=None, voltage_dependence=None, dendritic_delay_fraction=1.0,
                 weight=0.0, delay=None):
        if dendritic_delay_fraction != 0:
            raise NotImplementedError(
                f"pyNN.volley: STDPMechanism with dendritic_delay_fraction={dendritic_delay_fraction}: volley's delays are axonal "
                "(the presynaptic spike reaches the synapse after the delay); give dendritic_delay_fraction=0"
            )
        if voltage_dependence is not None:
            raise NotImplementedError("pyNN.volley: STDP with a voltage dependence")
        if not isinstance(timing_dependence, SpikePairRule):
            raise NotImplementedError(f"pyNN.volley: STDP timing dependence {type(timing_dependence).__name__} (SpikePairRule is supported)")
        if not isinstance(weight_dependence, _WEIGHT_DEPENDENCES):
            raise NotImplementedError(f"pyNN.volley: STDP weight dependence {type(weight_dependence).__name__}")
        super().__init__(timing_dependence, weight_dependence, voltage_dependence, dendritic_delay_fraction, weight, delay)

    def _get_minimum_delay(self):
        return state.dt if state.min_delay == "auto" else state.min_delay

    def plasticity(self, weight_scale, sign):
        """The `plasticity` table of a projection of this mechanism: PyNN's parameters
        (weights ×`weight_scale`, Wmax of the weights' `sign`) in volley's `stdp` rule."""
        t = self.timing_dependence.parameter_space
        w = self.weight_dependence.parameter_space
        t.shape = w.shape = (1,)
        t.evaluate(simplify=True)
        w.evaluate(simplify=True)
        t, w = t.as_dict(), w.as_dict()
        if w["w_min"] != 0:
            raise NotImplementedError(f"pyNN.volley: STDP with w_min = {w['w_min']} (volley's stdp rule bounds weights below by 0)")
        if t["A_plus"] == 0 and t["A_minus"] != 0:
            raise NotImplementedError("pyNN.volley: STDP with A_plus = 0 and A_minus ≠ 0 (volley's depression is alpha·lambda)")
        mu_plus, mu_minus = self.weight_dependence.exponents(w)
        return {
            "rule": "stdp",
            "tau_plus": f"{t['tau_plus']} ms",
            "tau_minus": f"{t['tau_minus']} ms",
            "lambda": t["A_plus"],
            "alpha": t["A_minus"] / t["A_plus"] if t["A_plus"] else 0.0,
            "mu_plus": mu_plus,
            "mu_minus": mu_minus,
            "Wmax": sign * w["w_max"] * weight_scale,
        }


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = build_translations(("tau_plus", "tau_plus"), ("tau_minus", "tau_minus"), ("A_plus", "A_plus"), ("A_minus", "A_minus"))


class _WeightDependence:
    """A weight dependence as the exponents of volley's stdp rule (NEST's mu_plus,
    mu_minus), its bounds translated as they are."""

    translations = build_translations(("w_min", "w_min"), ("w_max", "w_max"))
    mu = (0.0, 0.0)

    def exponents(self, _parameters):
        return self.mu


class AdditiveWeightDependence(_WeightDependence, synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__


class MultiplicativeWeightDependence(_WeightDependence, synapses.MultiplicativeWeightDependence):
    __doc__ = synapses.MultiplicativeWeightDependence.__doc__
    mu = (1.0, 1.0)


class AdditivePotentiationMultiplicativeDepression(_WeightDependence, synapses.AdditivePotentiationMultiplicativeDepression):
    __doc__ = synapses.AdditivePotentiationMultiplicativeDepression.__doc__
    mu = (0.0, 1.0)


class GutigWeightDependence(_WeightDependence, synapses.GutigWeightDependence):
    __doc__ = synapses.GutigWeightDependence.__doc__
    translations = build_translations(("w_min", "w_min"), ("w_max", "w_max"), ("mu_plus", "mu_plus"), ("mu_minus", "mu_minus"))

    def exponents(self, parameters):
        # The values given (pyNN.nest 0.13 passes 0.5, 0.5 whatever they are).
        return float(parameters["mu_plus"]), float(parameters["mu_minus"])


_WEIGHT_DEPENDENCES = (AdditiveWeightDependence, MultiplicativeWeightDependence, AdditivePotentiationMultiplicativeDepression,
                       GutigWeightDependence)


class _VolleyCurrentSource:
    """A current source as volley stimuli on the cells it is injected into: each
    injection is one `[[stimulus]]` per population, made at the build. A change of its
    parameters after the first run changes those stimuli from the next step."""

    def __init__(self, **parameters):
        from pyNN.parameters import ParameterSpace

        object.__setattr__(self, "parameter_space", ParameterSpace(self.default_parameters, self.get_schema(), shape=(1,)))
        if parameters:
            self.parameter_space.update(**parameters)
        object.__setattr__(self, "injections", [])  # [(population, local indices or None)]
        object.__setattr__(self, "stimulus_indices", [])  # their [[stimulus]] numbers, once built
        object.__setattr__(self, "built_with_stop", False)  # a noise or sine stopping, as built
        state.current_sources.append(self)

    def inject_into(self, cells):
        from .build import group_by_population

        if state.sim is not None:
            raise NotImplementedError("volley builds the network whole at the first run: inject current sources before it")
        for population, indices in group_by_population(cells):
            if not population.celltype.injectable:
                raise TypeError(f"cannot inject a current into {population.celltype.__class__.__name__} cells")
            self.injections.append((population, indices))

    def set_native_parameters(self, parameters):
        parameters.evaluate(simplify=True)
        self.parameter_space.update(**parameters.as_dict())
        if state.sim is not None:
            from .build import change_current_source

            change_current_source(state, self)

    def get_native_parameters(self):
        return self.parameter_space

    def _reset(self):
        pass


class DCSource(_VolleyCurrentSource, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__
    translations = build_translations(("amplitude", "amplitude"), ("start", "start"), ("stop", "stop"))


class StepCurrentSource(_VolleyCurrentSource, electrodes.StepCurrentSource):
    __doc__ = electrodes.StepCurrentSource.__doc__
    translations = build_translations(("amplitudes", "amplitudes"), ("times", "times"))


class NoisyCurrentSource(_VolleyCurrentSource, electrodes.NoisyCurrentSource):
    __doc__ = electrodes.NoisyCurrentSource.__doc__
    translations = build_translations(
        ("mean", "mean"), ("stdev", "stdev"), ("start", "start"), ("stop", "stop"), ("dt", "dt")
    )


class ACSource(_VolleyCurrentSource, electrodes.ACSource):
    __doc__ = electrodes.ACSource.__doc__
    translations = build_translations(
        ("amplitude", "amplitude"), ("offset", "offset"), ("frequency", "frequency"), ("phase", "phase"), ("start", "start"), ("stop", "stop")
    )


# What PyNN's standard library has that volley cannot run exactly (yet): each raises
# PyNN's NotImplementedError with its name when used.
def _not_supported(name, why):
    def refuse(*args, **kwargs):
        raise NotImplementedError(f"{name} is not supported by pyNN.volley: {why}")

    refuse.__name__ = name
    return refuse


EIF_cond_exp_isfa_ista = _not_supported("EIF_cond_exp_isfa_ista", "no adaptive exponential model in volley")
EIF_cond_alpha_isfa_ista = _not_supported("EIF_cond_alpha_isfa_ista", "no adaptive exponential model in volley")
TsodyksMarkramSynapse = _not_supported("TsodyksMarkramSynapse", "no short-term plasticity in volley")
