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


def test_the_assistants_times_are_taken_to_the_peers_frames_with_its_count_changes_before_the_note():
    """The assistant's time base starts from another moment than the peer's and moves on a
    stall; the plan and the follower's count changes are compared with the peer's times on
    the server's frames, so a plan a pulse late shows a pulse late whatever the bases did."""
    t0, bpm = 1_000_000_000, 120.0
    pulse = pulse_ns(bpm)
    rig = SimpleNamespace(t0=t0, tick_of=lambda ns: (ns - t0) / (2 * pulse),
                          time_of=lambda tick: tick_time(t0, bpm, tick),
                          peer=SimpleNamespace(frame_zero_ns=500 * MS, sender=SimpleNamespace(sent=[], lateness_ns=[])))
    late = rig.time_of(204) + round(pulse)  # sounded a pulse late
    ours_zero, shift = 693 * MS, 4 * MS  # the assistant's frame 0 193 ms later; its base moved 4 ms
    to_ours = ours_zero - 500 * MS
    handed = [[204, late + to_ours + shift, 0, "out", 0, 62, shift]]  # planned where it sounded
    changes = [[late - 3 * MS + to_ours + shift, shift, "repeat", -1], [late - 9_000 * MS, 0, "lost", 1]]
    out = off_time_notes(rig, [("out", mido.Message("note_on", note=62, velocity=90), late)], [pulse / MS],
                         {"handed_notes": handed, "frame_zero_ns": ours_zero, "clock_count_changes": changes},
                         None, period_ns=None, planned_tick=lambda ns: 204)
    (note,) = out
    assert note["planned_off_ms"] == round(pulse / MS, 3)  # the plan was a pulse late, not the port
    assert note["clock_count_changes_before"] == [[-3.0, "repeat", -1]]  # the one 9 s before is not near
