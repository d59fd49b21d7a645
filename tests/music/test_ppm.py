"""PPM*: hand-computed probabilities, a brute-force reference, combination, scorer."""

import random
import time

import numpy as np
import pytest

from assistant.music.ppm import PPM, combine, entropy

A, B, C, D, R = range(5)
ABRACADABRA = [A, B, R, A, C, A, D, A, B, R, A]


def frac(values, denom):
    return np.array(values, dtype=np.float64) / denom


# ------------------------------------------------------------ hand-computed cases
#
# Counts after train("abracadabra") (the end of the sequence is learnt as well,
# but is never predicted):
#   order 0:      a 5, b 2, c 1, d 1, r 2                    (N = 11, 5 types)
#   after "a":    b 2, c 1, d 1        (+ the end)
#   after "b", "ab": r 2
# Blending (escape C): weight w = N' / (N' + T), where N' leaves out the counts of
# the symbols seen in the next higher order, T = distinct symbols; escape *= 1 - w;
# order -1 gives 1 / (|A| + 1 - t0) = 1 / (5 + 1 - 5) = 1 to every symbol; normalise.


def test_order2_escape_c_no_update_exclusion():
    # "ab" -> r 2: w = 2/3, r += 2/3, escape 1/3.
    # "b"  -> r 2: r excluded, N' = 0, w = 0: nothing.
    # ""   -> N' = 11 - 2 = 9, T = 5, w = 9/14: each += 1/3 * 9/14 * c/9 = c/42; escape 5/42.
    # -1   -> each += 5/42.
    # a 10/42, b 7/42, c 6/42, d 6/42, r 28/42 + 7/42 = 35/42; sum 64/42.
    m = PPM(5, order=2, escape="C", update_exclusion=False)
    m.train(ABRACADABRA)
    np.testing.assert_allclose(m.predict([A, B]), frac([10, 7, 6, 6, 35], 64), rtol=0, atol=1e-9)


def test_unbounded_selects_shortest_deterministic_context():
    # "ab" and "b" are both deterministic (only r follows); PPM* starts at "b":
    # same numbers as above because "ab" adds nothing beyond "b".
    m = PPM(5, order=None, escape="C", update_exclusion=False)
    m.train(ABRACADABRA)
    np.testing.assert_allclose(m.predict([D, A, B]), frac([10, 7, 6, 6, 35], 64), rtol=0, atol=1e-9)


def test_order2_escape_c_with_update_exclusion():
    # IDyOM's rule: an excluded count rises only when the symbol had to escape from
    # the longest previously seen context. In "abracadabra" that never happens (each
    # symbol is either new everywhere or predicted by that context), so every
    # excluded count is 1: "ab" -> r 1; "" -> a, b, c, d, r 1 each.
    # "ab": w = 1/2, r += 1/2, escape 1/2.  "b": excluded, nothing.
    # "": N' = 4 (r excluded), T = 5, w = 4/9: each += 1/2 * 4/9 * 1/4 = 1/18; escape 5/18.
    # -1: each += 5/18.  a = b = c = d = 6/18, r = 9/18 + 6/18 = 15/18; sum 39/18.
    m = PPM(5, order=2, escape="C", update_exclusion=True)
    m.train(ABRACADABRA)
    np.testing.assert_allclose(m.predict([A, B]), frac([6, 6, 6, 6, 15], 39), rtol=0, atol=1e-9)


def test_order1_escape_x():
    # "a" -> b 2, c 1, d 1 (and the end): N = 4, X: T = 1 + #singletons = 3, w = 4/7:
    #        b += 2/7, c += 1/7, d += 1/7; escape 3/7; b, c, d excluded below.
    # ""  -> N' = a 5 + r 2 = 7, singletons c, d: T = 3, w = 7/10:
    #        each += 3/7 * 7/10 * c/7 = 3c/70; escape 9/70.   -1: each += 9/70.
    # a 24/70, b 35/70, c 22/70, d 22/70, r 15/70; sum 118/70.
    m = PPM(5, order=1, escape="X", update_exclusion=False)
    m.train(ABRACADABRA)
    np.testing.assert_allclose(m.predict([R, A]), frac([24, 35, 22, 22, 15], 118), rtol=0, atol=1e-9)


def test_order0_and_empty_model_are_uniform_where_nothing_is_known():
    m = PPM(4, order=0, update_exclusion=False)
    np.testing.assert_allclose(m.predict([]), np.full(4, 0.25), atol=1e-12)
    m.train([1, 1, 2])
    # "" -> 1: 2, 2: 1, N = 3, T = 2, w = 3/5: 1 += 2/5, 2 += 1/5; escape 2/5;
    # -1: 1 / (4 + 1 - 2) = 1/3 -> each += 2/15.  0: 2/15, 1: 8/15, 2: 5/15, 3: 2/15; sum 17/15.
    np.testing.assert_allclose(m.predict([3, 3]), frac([2, 8, 5, 2], 17), atol=1e-9)


def test_stm_observe_escape_x_update_exclusion():
    # STM settings (X, update exclusion, unbounded), alphabet a b c, observe "a b a".
    # Excluded counts: a at order 0 was predicted by the longest context seen (the
    # empty one), so it stays 1: "" -> a 1, b 1. Plain counts: "" -> a 2, b 1.
    m = PPM(3, escape="X", update_exclusion=True)
    for x in (A, B, A):
        m.observe(x)
    # Own sequence: "a" (seen at 0, then b) is the shortest deterministic context, so
    # plain counts: "a" -> b 1: T = 2, w = 1/3, b += 1/3, escape 2/3.
    # "" -> N' = a 2, singletons b: T = 2, w = 1/2: each += 2/3 * 1/2 * c/2 = c/6;
    # escape 1/3; -1: 1/(3 + 1 - 2) = 1/2 -> each += 1/6. a 3/6, b 4/6, c 1/6.
    np.testing.assert_allclose(m.predict(m.sequence), frac([3, 4, 1], 8), atol=1e-9)
    # Foreign context "c": nothing matches, the root is the longest context: excluded
    # counts a 1, b 1: T = 1 + 2, N = 2, w = 2/5: a, b += 1/5; escape 3/5; -1: += 3/10.
    np.testing.assert_allclose(m.predict([C]), frac([5, 5, 3], 13), atol=1e-9)


def test_update_exclusion_count_rises_after_an_escape():
    # Observe "a b c b a": at the last a the longest context seen before is "b"
    # (followed by c only), so a escapes to the root and its excluded count there
    # becomes 2. Root excluded counts a 2, b 1, c 1: X: T = 1 + 2, N = 4, w = 4/7:
    # a += 2/7, b += 1/7, c += 1/7; escape 3/7; -1: 1/(3 + 1 - 3) -> each += 3/7.
    m = PPM(3, escape="X", update_exclusion=True)
    for x in (A, B, C, B, A):
        m.observe(x)
    np.testing.assert_allclose(m.predict([]), frac([5, 4, 4], 13), atol=1e-9)


# ------------------------------------------------------------ brute-force reference


def reference(done, running, context, size, escape, order):
    """PPM* by definition: counts from scanning every sequence, one order at a time."""
    end = size
    texts = [list(s) + [end] for s in done] + [list(running)]
    kk, dd = {"A": (0, 1), "B": (-1, 1), "C": (0, 1), "D": (-0.5, 2), "X": (0, 1)}[escape]

    def follow(ctx):
        n = len(ctx)
        out = {}
        for t in texts:
            for i in range(n, len(t)):
                if t[i - n:i] == ctx:
                    out[t[i]] = out.get(t[i], 0) + 1
        return out

    ctx = list(context)
    top = 0
    for length in range(len(ctx), 0, -1):
        if follow(ctx[len(ctx) - length:]):
            top = length
            break
    if order is not None:
        top = min(top, order)
    elif top > 0 and len(follow(ctx[len(ctx) - top:])) == 1:
        top = next(n for n in range(1, top + 1) if len(follow(ctx[len(ctx) - n:])) == 1)
    acc = np.zeros(size)
    esc = 1.0
    excluded = set()
    t0 = 0
    for n in range(top, -1, -1):
        f = {x: c for x, c in follow(ctx[len(ctx) - n:] if n else []).items() if x != end}
        if n == 0:
            t0 = len(f)
        if not f:
            excluded = set()
            continue
        total = sum(c + kk for x, c in f.items() if x not in excluded)
        if escape == "A":
            denom = total + 1
        elif escape == "X":
            denom = total + (sum(1 for c in f.values() if c == 1) + 1) / dd
        else:
            denom = total + len(f) / dd
        w = total / denom if denom > 0 else 0.0
        if total > 0:
            for x, c in f.items():
                acc[x] += esc * w * (c + kk) / total
        esc *= 1 - w
        excluded = set(f)
    acc += esc / (size + 1 - t0)
    return acc / acc.sum()


@pytest.mark.parametrize("escape", ["A", "B", "C", "D", "X"])
@pytest.mark.parametrize("order", [None, 0, 1, 3])
def test_matches_brute_force_reference(escape, order):
    rng = random.Random(hash((escape, order)) & 0xFFFF)
    size = 4
    done = [[rng.randrange(size) for _ in range(rng.randrange(1, 14))] for _ in range(4)]
    done.append([0, 1, 2, 0, 1, 2, 0, 1])  # repeats: long deterministic contexts
    running = [rng.randrange(size) for _ in range(9)]
    m = PPM(size, order=order, escape=escape, update_exclusion=False)
    for s in done[:2]:
        m.train(s)
    for x in running[:4]:
        m.observe(x)
    for s in done[2:]:
        m.train(s)  # training between observations leaves the running sequence intact
    for x in running[4:]:
        m.observe(x)
    contexts = [running, running[:3], [], [0, 1, 2, 0, 1], [3, 3, 3, 3], [2, 0, 1, 2, 0, 1, 2]]
    contexts += [[rng.randrange(size) for _ in range(rng.randrange(0, 30))] for _ in range(20)]
    for ctx in contexts:
        got = m.predict(ctx)
        want = reference(done, running, ctx, size, escape, order)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=f"context {ctx}")


def test_long_repeated_context_beyond_the_matching_window():
    # A context that matches for 40 symbols with two continuations at every length.
    body = [random.Random(3).randrange(3) for _ in range(40)]
    m = PPM(4, escape="C", update_exclusion=False)
    m.train(body + [3])
    m.train(body + [2])
    got = m.predict(body)
    want = reference([body + [3], body + [2]], [], body, 4, "C", None)
    np.testing.assert_allclose(got, want, atol=1e-12)


# --------------------------------------------------------------------- properties


def test_distributions_sum_to_one_and_are_never_zero():
    rng = random.Random(7)
    for escape in ("C", "X"):
        for ue in (False, True):
            m = PPM(12, escape=escape, update_exclusion=ue)
            for _ in range(5):
                m.train([rng.randrange(6) for _ in range(30)])
            for _ in range(50):
                m.observe(rng.randrange(12))
                for ctx in (m.sequence, [rng.randrange(12) for _ in range(5)], []):
                    p = m.predict(ctx)
                    assert p.dtype == np.float64 and p.shape == (12,)
                    assert abs(p.sum() - 1.0) < 1e-12 and (p > 0).all()


def test_observe_then_reset_equals_train():
    rng = random.Random(11)
    seqs = [[rng.randrange(5) for _ in range(rng.randrange(5, 25))] for _ in range(6)]
    for ue in (False, True):
        a = PPM(5, escape="X", update_exclusion=ue)
        b = PPM(5, escape="X", update_exclusion=ue)
        for s in seqs:
            a.train(s)
            for x in s:
                b.observe(x)
            b.reset_sequence()
        assert a.num_states == b.num_states
        for ctx in [seqs[0][:k] for k in range(len(seqs[0]) + 1)] + [[4, 4, 1], []]:
            np.testing.assert_array_equal(a.predict(ctx), b.predict(ctx))


def test_predict_on_foreign_contexts_does_not_change_the_model():
    m = PPM(5, escape="X", update_exclusion=True)
    for x in ABRACADABRA:
        m.observe(x)
    own = m.predict(m.sequence)
    for alt in ([A, B], [C, A, D, A], [R, R, R], ABRACADABRA + [C]):
        m.predict(alt)
    np.testing.assert_array_equal(m.predict(m.sequence), own)
    # The own sequence ends "...abra", seen before followed by c: c is the favourite.
    assert int(np.argmax(own)) == C
    # A foreign context ending in "ab" predicts r, as the model learnt.
    assert int(np.argmax(m.predict([D, D, A, B]))) == R


def test_copy_is_independent():
    m = PPM(5)
    m.train(ABRACADABRA)
    c = m.copy()
    before = m.predict([A])
    c.observe(A)
    c.observe(A)
    c.train([A, A, A, A])
    np.testing.assert_array_equal(m.predict([A]), before)
    assert not np.allclose(c.predict([A]), before)


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        PPM(0)
    with pytest.raises(ValueError):
        PPM(4, escape="Q")
    with pytest.raises(ValueError):
        PPM(4, order=-1)
    m = PPM(4)
    with pytest.raises(ValueError):
        m.observe(4)
    with pytest.raises(ValueError):
        m.train([0, 5])
    assert PPM(4, escape="ax").escape == "X"


def test_stm_predict_is_fast():
    # The live engine's budget: well under 0.2 ms per call on a 500-symbol STM.
    rng = random.Random(5)
    m = PPM(128, escape="X", update_exclusion=True)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    for _ in range(500):
        m.observe(rng.choice(scale))
    ctx = m.sequence + [64, 65]
    m.predict(ctx)
    n = 300
    t = time.perf_counter()
    for _ in range(n):
        m.predict(ctx)
    per_call = (time.perf_counter() - t) / n
    assert per_call < 0.5e-3  # generous for a shared CI machine; typical figure is far lower


# ---------------------------------------------------------------------- combine


def test_combine_leans_to_the_peaked_distribution():
    peaked = np.array([0.85, 0.05, 0.05, 0.05])
    flat = np.full(4, 0.25)
    for method in ("geometric", "arithmetic"):
        out = combine([peaked, flat], bias=2.0, method=method)
        assert abs(out.sum() - 1) < 1e-12 and (out > 0).all()
        assert out[0] > 0.5 * (peaked[0] + flat[0])  # more than the plain average
    # bias 0: equal weights.
    np.testing.assert_allclose(combine([peaked, flat], bias=0, method="arithmetic"), (peaked + flat) / 2)
    g = np.sqrt(peaked * flat)
    np.testing.assert_allclose(combine([peaked, flat], bias=0, method="geometric"), g / g.sum())
    # The weights by hand: H(flat) = H_max, so w_flat = 1; w_peaked = (H/2)^-2.
    w = (entropy(peaked) / 2.0) ** -2
    np.testing.assert_allclose(combine([peaked, flat], bias=2, method="arithmetic"),
                               (w * peaked + flat) / (w + 1))
    with pytest.raises(ValueError):
        combine([peaked], method="median")


# ------------------------------------------------------------------- the scorer

from assistant.music import Melody, Meter, Note  # noqa: E402
from assistant.train import ppm_eval as E  # noqa: E402


def mel(notes, meters=None, name="t#1"):
    return Melody(name, "test", [Note(*n) for n in notes], meters or [Meter(0)])


M1 = mel([(0, 12, 60), (12, 12, 62), (24, 12, 64), (36, 12, 65), (48, 24, 67), (72, 24, 67)], name="m1")
M2 = mel([(0, 12, 60), (12, 12, 62), (24, 12, 64), (36, 12, 62), (48, 24, 60)], name="m2")
# A quarter-note pickup in 4/4 (downbeats at -36, 12, ...) and a rest before the last note.
M3 = mel([(0, 12, 67), (12, 12, 64), (24, 12, 62), (36, 12, 60), (54, 6, 62)], [Meter(-36)], name="m3")


def test_viewpoints():
    assert E.pitch_symbols(M3) == [67, 64, 62, 60, 62]
    assert E.rhythm_pairs(M3) == [(36, 12), (0, 12), (0, 12), (0, 12), (6, 6)]
    assert E.linked_triples(M3)[0] == (36, 12, 67) and E.linked_triples(M3)[-1] == (6, 6, 62)
    t = E.SymbolTable([(0, 12), (0, 24), (0, 12)], other=True)
    assert len(t) == 3 and t.index((0, 24)) == 1 and t.index((5, 5)) == t.other == 2
    with pytest.raises(ValueError):
        E.SymbolTable([1, 2]).index(3)


def test_scorer_without_training_is_uniform():
    # Nothing learnt and no STM: every note is uniform over its alphabet.
    # Pitches {60, 62, 64, 65, 67}: log2 5 bits; rhythm pairs {(0, 12), (0, 24)}: 1 bit;
    # pitch given rhythm: a uniform row of the linked alphabet: log2 5 again.
    sc = E.PPMScorer([], vocab=[M1], open_alphabet=False)
    out = sc.score(M1, stm=False)
    n = len(M1.notes)
    np.testing.assert_allclose(out["pitch_only"], np.full(n, np.log2(5)))
    np.testing.assert_allclose(out["rhythm"], np.ones(n))
    np.testing.assert_allclose(out["pitch_given_rhythm"], np.full(n, np.log2(5)))
    np.testing.assert_allclose(out["joint"], np.full(n, 1 + np.log2(5)))
    assert out["unseen"] == 0


def test_scorer_figures_follow_from_the_models():
    sc = E.PPMScorer([M1, M2], vocab=[M3], open_alphabet=False)
    seqs = sc.encode(M3)
    npitch = len(sc.pitches)
    out = sc.score(M3, stm=False)
    for i in range(len(M3.notes)):
        d = sc.ltm["linked"].predict(seqs["linked"][:i])
        r, p = divmod(seqs["linked"][i], npitch)
        row = d[r * npitch:(r + 1) * npitch]
        assert out["pitch_given_rhythm"][i] == pytest.approx(-np.log2(row[p] / row.sum()), abs=1e-12)
        assert out["pitch_only"][i] == pytest.approx(
            -np.log2(sc.ltm["pitch"].predict(seqs["pitch"][:i])[seqs["pitch"][i]]), abs=1e-12)
    np.testing.assert_allclose(out["joint"], out["rhythm"] + out["pitch_given_rhythm"])
    # With the STM: the LTM and a fresh STM combined at every note.
    both = sc.score(M3, stm=True)
    stm = E.STM.make(npitch)
    for i, x in enumerate(seqs["pitch"]):
        d = combine([sc.ltm["pitch"].predict(seqs["pitch"][:i]), stm.predict(seqs["pitch"][:i])],
                    E.DEFAULT_BIAS, E.DEFAULT_METHOD)
        assert both["pitch_only"][i] == pytest.approx(-np.log2(d[x]), abs=1e-12)
        stm.observe(x)
    # score() without learn leaves the LTMs as they were.
    again = sc.score(M3, stm=False)
    np.testing.assert_array_equal(again["joint"], out["joint"])


def test_scorer_learn_is_ltm_plus():
    sc = E.PPMScorer([M2], vocab=[M1])
    first = sc.score(M1, stm=False, learn=True)["pitch_only"].mean()
    second = sc.score(M1, stm=False, learn=True)["pitch_only"].mean()
    assert second < first


def test_scorer_unseen_symbols():
    odd = mel([(0, 12, 60), (12, 5, 99)], name="odd")
    sc = E.PPMScorer([M1])
    out = sc.score(odd, stm=True)
    assert out["unseen"] == 1 and np.isfinite(out["joint"]).all()
    with pytest.raises(ValueError):
        E.PPMScorer([M1], open_alphabet=False).score(odd, stm=False)
    midi = E.PPMScorer([M1], pitch_alphabet="midi")
    assert len(midi.pitches) == 128 and midi.score(odd, stm=False)["unseen"] == 1  # the rhythm pair


def test_generate_continues_in_time():
    sc = E.PPMScorer([M1, M2, M3])
    prompt = M1.notes[:3]
    a = E.generate(prompt, M1.meters, n_notes=6, rng=7, scorer=sc)
    b = E.generate(prompt, M1.meters, n_notes=6, rng=7, scorer=sc)
    assert a == b and len(a) == 6
    cursor = prompt[-1].end
    for n in a:
        assert n.onset >= cursor and n.duration > 0 and n.pitch in sc.pitches
        cursor = n.end
    # Two bars after the prompt's end (36): up to the downbeat at 48 + 2 bars = 144.
    c = E.generate(prompt, M1.meters, bars=2, rng=1, scorer=sc)
    assert c and all(n.onset >= 36 and n.end <= 144 for n in c)
    empty = E.generate([], [Meter(0, 3, 4)], bars=1, rng=2, scorer=sc)
    assert all(0 <= n.onset and n.end <= 36 for n in empty)
    with pytest.raises(ValueError):
        E.generate(prompt, M1.meters, scorer=sc)


def test_reproduce_set_runs_on_a_tiny_set():
    melodies = [M1, M2, M3] * 4
    res = E.reproduce_set(melodies, folds=3, biases=(2,), methods=("geometric",))
    assert res["melodies"] == 12 and res["notes"] == 64
    for key in ("ltm", "ltm_plus", "stm", "both", "both_plus"):
        assert 0 < res[key] < np.log2(res["alphabet"]) + 1
    # Repeated melodies: learning the test melodies (LTM+) helps.
    assert res["ltm_plus"] < res["ltm"]


@pytest.mark.slow
@pytest.mark.train
def test_reproduces_pearce_on_kinder():
    pytest.importorskip("music21")
    from assistant.train.corpus import load_eval_sets

    kinder = load_eval_sets(progress=False)["kinder"]
    res = E.reproduce_set(kinder, biases=(E.DEFAULT_BIAS,), methods=(E.DEFAULT_METHOD,))
    assert (res["melodies"], res["notes"]) == (213, 8393)
    assert abs(res["ltm"] - 2.428) < 0.10
    assert abs(res["both_plus"] - 2.106) < 0.10


def test_symbols_outside_the_alphabet_match_nothing_in_a_context():
    m = PPM(3, update_exclusion=False)
    m.train([0, 1, 2])
    m.train([1, 1, 1])
    np.testing.assert_array_equal(m.predict([0, 1, 3]), m.predict([0, 1, -1]))
    np.testing.assert_array_equal(m.predict([2, 3]), m.predict([]))


def test_scorer_combined_pitch_given_rhythm():
    sc = E.PPMScorer([M1, M2], vocab=[M3], open_alphabet=False)
    out = sc.score(M3, stm=False)
    seqs = sc.encode(M3)
    npitch = len(sc.pitches)
    for i in range(len(M3.notes)):
        dp = sc.ltm["pitch"].predict(seqs["pitch"][:i])
        d = sc.ltm["linked"].predict(seqs["linked"][:i])
        r, p = divmod(seqs["linked"][i], npitch)
        row = d[r * npitch:(r + 1) * npitch]
        c = combine([dp, row / row.sum()], E.VIEWPOINT_BIAS, E.DEFAULT_METHOD)
        assert out["pitch_given_rhythm_combined"][i] == pytest.approx(-np.log2(c[p]), abs=1e-12)
