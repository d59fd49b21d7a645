"""The harmony lane alone: how early it decides, and that it is quiet without a chord model."""

from assistant.live.harmony_lane import HarmonyLane
from assistant.music import Note


class _Clock:
    NS_PER_TICK = 41_666_667  # 120 BPM, 12 ticks a quarter

    meters = []

    def ns_at(self, tick):
        return round(tick * self.NS_PER_TICK)


class _Scheduler:
    def __init__(self, lead_ns):
        self.lead_ns = lead_ns

    def send_lead_ns(self, output):
        return self.lead_ns


def test_the_decision_comes_as_many_ticks_early_as_the_harmony_output_needs():
    quick = HarmonyLane(None, _Clock(), _Scheduler(2_000_000), planner=None)
    assert quick._decision_ticks(100.0) == 1  # 2 ms lead + 10 ms to decide: within a tick
    slow = HarmonyLane(None, _Clock(), _Scheduler(64_000_000), planner=None)
    assert slow._decision_ticks(100.0) == 2  # 64 + 10 ms: two ticks of 41.7 ms


def test_without_a_chord_model_the_lane_hears_and_plays_nothing():
    lane = HarmonyLane(None, _Clock(), _Scheduler(0), planner=None)
    lane.hear_struck(0, 60, 60)
    lane.hear_melody_note(Note(0, 12, 60))
    lane.hear_plan((Note(12, 12, 62),), None)
    lane.tick(0)
    assert not lane.available and not lane.active
    assert lane.chord_tones(0, 1) is None and lane.accepted_chords([Note(0, 12, 60)], 0) == []
    assert lane.view == (None, [])
