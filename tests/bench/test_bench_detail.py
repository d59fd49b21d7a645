"""The e2e benchmark's account of a note off its time (pure: a stand-in rig, no JACK)."""

from types import SimpleNamespace

import mido

from assistant.bench.judge import off_time_notes
from assistant.bench.rig import MS, pulse_ns, tick_time


def test_a_note_off_its_time_is_explained_by_its_plan_hand_over_and_the_xruns_near_it():
    t0, bpm = 1_000_000_000, 120.0
    pulse = pulse_ns(bpm)
    rig = SimpleNamespace(t0=t0, tick_of=lambda ns: (ns - t0) / (2 * pulse),
                          time_of=lambda tick: tick_time(t0, bpm, tick),
                          peer=SimpleNamespace(sender=SimpleNamespace(
                              sent=[(round(t0 + k * pulse), [0xF8]) for k in range(600)],
                              lateness_ns=[3 * MS if k == 383 else 0 for k in range(600)])))
    on_time, early = rig.time_of(192), rig.time_of(204) - round(pulse)  # the second one a pulse early
    ons = [("out", mido.Message("note_on", note=60, velocity=90), on_time),
           ("out", mido.Message("note_on", note=62, velocity=90), early)]
    errors = [0.0, -pulse / MS]
    handed = [[192, on_time, on_time - 40 * MS, "out", 0, 60], [204, early, early - 40 * MS, "out", 0, 62]]
    xruns = SimpleNamespace(near=lambda ns: [-12.0] if ns == early else [])
    out = off_time_notes(rig, ons, errors, {"handed_notes": handed}, xruns, period_ns=1_333_333,
                         phrase_of=lambda tick: (tick - 48) // 144, planned_tick=lambda ns: 204 if ns == early else 192)
    assert len(out) == 1
    note = out[0]
    assert (note["phrase"], note["note"], note["pitch"], note["planned_tick"]) == (1, 1, 62, 204)
    assert note["planned_off_ms"] == round(-pulse / MS, 3)  # the plan itself was a pulse early
    assert note["handed_over_ms_before"] == 40.0
    assert note["server_xruns_near_ms"] == [-12.0]
    assert note["sounded_period"] == round((early - t0) / 1_333_333)
