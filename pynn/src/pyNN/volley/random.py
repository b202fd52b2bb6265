"""volley's own random numbers, as PyNN's NativeRNG: a connector given one is drawn by
volley from its keyed streams under setup(seed=...) (as every connector on volley is), the
way NEST's and GeNN's NativeRNG hand the drawing to the simulator."""

from pyNN.random import NativeRNG as _NativeRNG


class NativeRNG(_NativeRNG):
    """volley's generator: draws happen inside volley, keyed by (seed, projection, neuron)."""

    def next(self, n=None, distribution=None, parameters=None, mask=None):
        # PyNN's sign that a generator has no Python interface (its code then warns and
        # goes on, as where it guesses a projection's receptor type from a weight).
        raise TypeError("pyNN.volley's NativeRNG draws inside volley: no values in Python")
