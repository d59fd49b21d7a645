"""What the scheduler handed over ahead of time (assistant.live.handover), exactly."""

import mido

from assistant.live.handover import HandOver


class _Item:
    def __init__(self, msg):
        self.msg = msg


class _Withdrawable:
    """Gives back every id it holds at or after the time asked (None: it could not)."""

    def __init__(self):
        self.held: dict[int, int] = {}
        self.answer_none = False

    def withdraw(self, from_ns):
        if self.answer_none:
            return None
        ids = [i for i, at in self.held.items() if at >= from_ns]
        for i in ids:
            del self.held[i]
        return ids, from_ns


def _on(pitch):
    return mido.Message("note_on", note=pitch, velocity=90)


def _off(pitch):
    return mido.Message("note_off", note=pitch)


def test_a_note_message_is_never_placed_before_the_last_of_the_same_note():
    h = HandOver(["out"], {})
    assert h.in_note_order("out", _off(60), 1_000) == 1_000
    assert h.in_note_order("out", _on(60), 900) == 1_000  # would have played before its own note-off
    assert h.in_note_order("out", _on(62), 900) == 900  # another note is free
    assert h.in_note_order("other", _on(60), 5) == 5  # an output placed on arrival keeps no tails
    assert h.record("out", 0, 2, 0, _Item(_on(60)), 1_000, 1) == 0  # not withdrawable: no id


def test_what_comes_back_is_the_latest_first_and_the_tails_follow_what_is_still_held():
    port = _Withdrawable()
    h = HandOver(["out"], {"out": port})
    ids = []
    for k, at in enumerate((1_000, 2_000, 3_000)):
        event_id = h.record("out", k, 2, k, _Item(_on(60)), at, 1)
        h.in_note_order("out", _on(60), at)
        port.held[event_id] = at
        ids.append(event_id)
    assert len(set(ids)) == 3 and 0 not in ids
    back = h.withdraw("out", 2_000)
    assert [b.at_ns for b in back] == [3_000, 2_000]
    assert [x.at_ns for x in h.handed("out")] == [1_000]
    assert h.in_note_order("out", _on(60), 1_500) == 1_500  # the taken-back ones no longer hold its place
    assert list(h.earliest_matching(lambda x: True)) == [("out", 1_000, 1_000)]
    port.answer_none = True
    assert h.withdraw("out", 0) == [] and h.holding() == ["out"]


def test_a_refused_event_is_not_kept_and_played_ones_are_forgotten():
    h = HandOver(["out"], {"out": _Withdrawable()})
    first = h.record("out", 0, 2, 0, _Item(_on(60)), 0, 1)
    h.refused("out", first)
    assert h.holding() == []
    for k in range(h.KEEP + 10):
        h.record("out", k, 2, k, _Item(_on(60)), k * h.FORGET_NS // 4, 1)
    assert len(list(h.handed("out"))) <= h.KEEP
