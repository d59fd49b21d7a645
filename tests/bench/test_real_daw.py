"""The real-DAW benchmark's own parts, without Ardour: the phrase file it plays, the
region it adds to a saved session, and how it judges a recording. (The take itself
needs Ardour: ``midi-assistant bench --daw ardour``.)"""

import xml.etree.ElementTree as ET

import mido
import pytest

from assistant.bench import real_daw
from assistant.bench.real_daw import BAR_SAMPLES, SAMPLE_RATE, Recording, answer_bars, judge


def test_the_phrase_file_puts_each_phrase_four_bars_after_the_last(tmp_path):
    real_daw.write_phrases(tmp_path / "p.mid", 3)
    t, onsets = 0.0, []
    for msg in mido.MidiFile(tmp_path / "p.mid"):
        t += msg.time
        if msg.type == "note_on" and msg.velocity:
            onsets.append(round(t, 6))
    per_phrase = len(real_daw.PHRASE)
    assert len(onsets) == 3 * per_phrase
    bar_s = BAR_SAMPLES / SAMPLE_RATE
    assert [onsets[k * per_phrase] for k in range(3)] == [bar_s * (1 + 4 * k) for k in range(3)]
    # each phrase ends (last note off) before the answer's bar, a bar and a beat ahead of it
    assert answer_bars(3) == [5, 9, 13]


def _take(offsets_samples):
    bars = answer_bars(len(offsets_samples))
    answer = []
    for bar, off in zip(bars, offsets_samples):
        line = (bar - 1) * BAR_SAMPLES
        answer += [(60, line + off), (62, line + off + 24000)]
    return Recording(player=[(67, BAR_SAMPLES)], answer=answer, info={"worst_output_latency": 528})


def test_answers_on_their_bar_lines_are_within_2ms():
    figures = judge(_take([0, 48, -48, 0]), 4)
    assert figures["within_2ms"] and figures["answered"] == 4
    assert [a["first_note_ms"] for a in figures["answers"]] == [0.0, 1.0, -1.0, 0.0]
    assert figures["first_note_ms"]["max"] == 1.0
    assert figures["player_first_note_ms"] == 0.0


@pytest.mark.parametrize("offsets", [[0, 0, -1013, 0], [0, 0, 0, 97]])
def test_one_answer_early_by_ardours_latency_or_just_over_2ms_fails(offsets):
    figures = judge(_take(offsets), 4)
    assert not figures["within_2ms"]
    assert figures["first_note_ms"]["max"] == pytest.approx(max(abs(o) for o in offsets) * 1000 / SAMPLE_RATE,
                                                            abs=1e-3)


def test_a_missing_answer_fails():
    take = _take([0, 0, 0, 0])
    take.answer = [n for n in take.answer if not (12 * BAR_SAMPLES <= n[1] < 13 * BAR_SAMPLES)]  # bar 13's
    figures = judge(take, 4)
    assert not figures["within_2ms"] and figures["answered"] == 3
    assert figures["answers"][2]["notes"] == 0


SESSION = """<?xml version="1.0" encoding="UTF-8"?>
<Session version="7003" name="bench" id-counter="1200">
  <Sources/><Regions/>
  <Playlists><Playlist id="17" name="Player"/><Playlist id="18" name="Answer"/></Playlists>
  <Routes><Route id="40" name="Player"/></Routes>
</Session>"""


def test_the_phrases_become_a_region_on_the_player_playlist(tmp_path):
    session = tmp_path / "session"
    (session / "interchange" / "session" / "midifiles").mkdir(parents=True)
    (session / "bench.ardour").write_text(SESSION)
    real_daw.write_phrases(tmp_path / "p.mid", 2)
    real_daw.add_region(session, "bench", tmp_path / "p.mid")
    assert (session / "interchange" / "session" / "midifiles" / "phrases.mid").exists()
    root = ET.parse(session / "bench.ardour").getroot()
    (source,) = root.find("Sources")
    (player, answer) = root.find("Playlists")
    (region,) = player
    assert len(answer) == 0 and region.get("source-0") == source.get("id")
    seconds = mido.MidiFile(tmp_path / "p.mid").length
    assert region.get("length") == f"b{round(seconds * 2 * 1920)}@b0"  # 120 BPM, 1920 ticks a beat
    assert int(root.get("id-counter")) > int(region.get("id"))


def test_results_are_read_by_track(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("worst_output_latency 528\nblock_size 256\nnote Answer 62 90 200\n"
                    "note Player 67 96 96000\nnote Answer 60 90 100\n")
    rec = real_daw.read_results(path)
    assert rec.answer == [(60, 100), (62, 200)] and rec.player == [(67, 96000)]
    assert rec.info == {"worst_output_latency": 528, "block_size": 256}
