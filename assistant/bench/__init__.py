"""Benchmarks and the end-to-end rig: measuring the product, never part of it.

``model_speed`` (model and chord-model latency), ``rig`` (a JACK server, a DAW
stand-in and the real assistant in its own process), ``judge`` (what came back, as a
musician hears it), ``e2e`` (``bench --e2e``), ``soak`` (``bench --soak``) and
``dispatch`` (the scheduler's own timing). Run-time code never imports this package.
"""
