"""Retrieval measures on toy spaces worked out by hand, and the random-weights control."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

import embedexplore as ee
from embedexplore.similarity import mean_average_precision, precision_at_k, precision_chance

# Six items on a line. Labels A A B B B B; tracks 0 0 1 2 2 3; artists p p p q q (unknown).
#   position  0   1   2          10  11      13
#   item      0   1   2           3   4       5
# Item 1 is as far from 0 as from 2: the tie goes to the lower index, 0.
LINE = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [13.0]], np.float32)
LABELS = np.array(["A", "A", "B", "B", "B", "B"], dtype=object)
TRACKS = np.array([0, 0, 1, 2, 2, 3])
ARTISTS = np.array(["p", "p", "p", "q", "q", None], dtype=object)


def p_at(k, **kw):
    return precision_at_k(LINE, LABELS, k, tracks=TRACKS, artists=ARTISTS, metric="euclidean", **kw)


def test_precision_at_k_by_hand():
    # k=1, nearest: 0->1 ok, 1->0 ok (tie), 2->1 no, 3->4 ok, 4->3 ok, 5->4 ok
    assert p_at(1) == pytest.approx(5 / 6)
    # k=2: 0->{1,2} 1/2, 1->{0,2} 1/2, 2->{1,0} 0, 3->{4,5} 1, 4->{3,5} 1, 5->{4,3} 1
    assert p_at(2) == pytest.approx(4 / 6)
    # without the own track, k=1: 0->2 no, 1->2 no, 2->1 no, 3->5 ok, 4->5 ok, 5->4 ok
    assert p_at(1, exclude_same_track=True) == pytest.approx(3 / 6)
    # k=2: 0->{2,3} 0, 1->{2,3} 0, 2->{1,0} 0, 3->{5,2} 1, 4->{5,2} 1, 5->{4,3} 1
    assert p_at(2, exclude_same_track=True) == pytest.approx(3 / 6)
    # without the own artist, k=1: 0->3 no, 1->3 no, 2->3 ok, 3->5 ok, 4->5 ok,
    # 5 (unknown artist: nobody excluded) ->4 ok
    assert p_at(1, exclude_same_artist=True) == pytest.approx(4 / 6)
    # both: 0, 1, 2 (artist p) only see 3, 4, 5; 3, 4 see 0, 1, 2, 5; 5 sees all but itself
    # k=1: 0->3 no, 1->3 no, 2->3 ok, 3->5 ok, 4->5 ok, 5->4 ok
    assert p_at(1, exclude_same_track=True, exclude_same_artist=True) == pytest.approx(4 / 6)


def test_items_without_k_candidates_are_skipped():
    # own track excluded, items 0, 1, 3, 4 have 4 candidates, items 2 and 5 have 5: at k=5
    # only 2 (0,1,3,4,5: B B B of 5) and 5 (0..4: B B B of 5) are queried
    assert p_at(5, exclude_same_track=True) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="no item with a label has k=6 neighbours left"):
        p_at(6, exclude_same_track=True)


def test_a_missing_label_is_a_candidate_never_a_query():
    for missing in (None, np.nan):
        labels = LABELS.copy()
        labels[1] = missing
        # 0->1 (no label: no match), 1 not queried, 2->1 no, 3->4, 4->3, 5->4 ok
        got = precision_at_k(LINE, labels, 1, metric="euclidean")
        assert got == pytest.approx(3 / 5)
    # labels of any kind: numbers, and lists compared whole (an empty list is missing)
    assert precision_at_k(LINE, [7, 7, 3, 3, 3, 3], 1, metric="euclidean") == pytest.approx(5 / 6)
    genres = [["a", "b"], ["a", "b"], ["c"], ["c"], [], ["c"]]
    # 0->1 ok, 1->0 ok, 2->1 no, 3->4 (no label) no, 4 not queried, 5->4 no
    assert precision_at_k(LINE, genres, 1, metric="euclidean") == pytest.approx(2 / 5)


def test_mean_average_precision_by_hand():
    # ranks of the same-label items: 0: [1]; 1: [1]; 2: [3, 4, 5]; 3, 4, 5: [1, 2, 3]
    ap2 = (1 / 3 + 2 / 4 + 3 / 5) / 3
    got = mean_average_precision(LINE, LABELS, metric="euclidean")
    assert got == pytest.approx((5 + ap2) / 6)
    # own track excluded: 0 and 1 have no A left (AP 0); 2 as before; 3: 5 then 2 (ranks 1, 2);
    # 4: 5, 2; 5: 4, 3, 2
    got = mean_average_precision(
        LINE, LABELS, tracks=TRACKS, exclude_same_track=True, metric="euclidean"
    )
    assert got == pytest.approx((ap2 + 3) / 6)


def test_chance_by_hand():
    # each A has 1 other A among 5, each B 3 other Bs among 5
    assert precision_chance(LABELS, 1) == pytest.approx((2 * 1 / 5 + 4 * 3 / 5) / 6)
    # own track excluded: 0, 1: no A among 4 candidates; 2: 3 Bs of 5; 3, 4: 2 of 4; 5: 3 of 5
    got = precision_chance(LABELS, 1, tracks=TRACKS, exclude_same_track=True)
    assert got == pytest.approx((0 + 0 + 3 / 5 + 2 / 4 + 2 / 4 + 3 / 5) / 6)
    # k=5 queries only 2 and 5, as precision_at_k does
    got = precision_chance(LABELS, 5, tracks=TRACKS, exclude_same_track=True)
    assert got == pytest.approx(3 / 5)
    # both exclusions: 0, 1: 0 of 3; 2: 3 of 3; 3, 4: 2 (2 and 5) of 4; 5: 3 of 5
    got = precision_chance(
        LABELS, 1, tracks=TRACKS, artists=ARTISTS, exclude_same_track=True, exclude_same_artist=True
    )
    assert got == pytest.approx((0 + 0 + 1 + 2 / 4 + 2 / 4 + 3 / 5) / 6)


def test_a_2d_map_and_the_metric():
    # two directions, near and far along each; labels: near / far
    xy = np.array([[1.0, 0.0], [10.0, 0.0], [0.0, 1.0], [0.0, 10.0]], np.float32)
    near_far = ["near", "far", "near", "far"]
    # euclidean: 0->2 ok, 1->0 no, 2->0 ok, 3->2 no; cosine: 0<->1 and 2<->3, all wrong
    assert precision_at_k(xy, near_far, 1, metric="euclidean") == pytest.approx(0.5)
    assert precision_at_k(xy, near_far, 1, metric="cosine") == 0.0
    # by direction, cosine is right every time
    assert precision_at_k(xy, ["x", "x", "y", "y"], 1) == 1.0


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_measures_equal_brute_force_with_exclusions(rng, metric):
    n = 240
    x = rng.normal(size=(n, 6)).astype(np.float32)
    labels = rng.integers(0, 4, n).astype(object)
    labels[rng.random(n) < 0.1] = None
    tracks = rng.integers(0, 30, n)
    artists = tracks // 5
    d = cdist(x.astype(np.float64), x.astype(np.float64), metric=metric)
    lab = np.array([-1 if v is None else v for v in labels])
    for et, ea in ((False, False), (True, False), (True, True)):
        excluded = np.eye(n, dtype=bool)
        excluded |= (tracks[:, None] == tracks[None, :]) & et
        excluded |= (artists[:, None] == artists[None, :]) & ea
        p, ap, chance = [], [], []
        for q in np.flatnonzero(lab >= 0):
            cands = np.flatnonzero(~excluded[q])
            ranked = cands[np.argsort(d[q, cands], kind="stable")]
            hit = lab[ranked] == lab[q]
            ap.append((np.cumsum(hit)[hit] / (np.flatnonzero(hit) + 1)).mean() if hit.any() else 0)
            if len(cands) >= 7:
                p.append(hit[:7].mean())
                chance.append(hit.mean())
        kw = {"tracks": tracks, "artists": artists}
        kw |= {"exclude_same_track": et, "exclude_same_artist": ea}
        assert precision_at_k(x, labels, 7, metric=metric, **kw) == pytest.approx(np.mean(p))
        assert mean_average_precision(x, labels, metric=metric, **kw) == pytest.approx(np.mean(ap))
        assert precision_chance(labels, 7, **kw) == pytest.approx(np.mean(chance))


def test_random_labels_sit_at_chance_and_clusters_above(rng):
    x = rng.normal(size=(600, 8))
    labels = rng.integers(0, 3, 600)
    chance = precision_chance(labels, 10)
    assert chance == pytest.approx(1 / 3, abs=0.01)
    assert abs(precision_at_k(x, labels, 10) - chance) < 0.05
    x[:, 0] += 6 * labels  # each label a cluster of its own
    assert precision_at_k(x, labels, 10, metric="euclidean") > 0.95


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: precision_at_k(LINE, LABELS, 1, exclude_same_track=True),
         "exclude_same_track=True needs tracks="),
        (lambda: precision_chance(LABELS, 1, exclude_same_artist=True),
         "exclude_same_artist=True needs artists="),
        (lambda: precision_at_k(LINE, LABELS[:5], 1), r"labels must hold one value per item \(6\)"),
        (lambda: precision_at_k(LINE[:, 0], LABELS, 1), r"must be an array \[N, d\]"),
        (lambda: precision_at_k(np.full((6, 2), np.nan), LABELS, 1), "NaN or infinite"),
        (lambda: precision_at_k(LINE, LABELS, 1, metric="manhattan"), "metric must be one of"),
        (lambda: precision_at_k(LINE, LABELS, 0), "k must be a whole number >= 1"),
        (lambda: mean_average_precision(LINE, [None] * 6), "no item with a label has a neighbour"),
        (lambda: precision_at_k(LINE, LABELS, 1, tracks=TRACKS[:3], exclude_same_track=True),
         r"tracks must hold one value per item \(6\)"),
    ],
)  # fmt: skip
def test_errors_say_what_to_do(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_exported_from_similarity():
    assert ee.similarity.precision_at_k is precision_at_k
    assert {"precision_at_k", "mean_average_precision", "precision_chance"} <= set(
        ee.similarity.__all__
    )


# -- the random-weights control ---------------------------------------------------------------


@pytest.fixture
def random_weights():
    """``ee.models.random_weights``, the models it registers removed after the test."""
    before = set(ee.registry.names())
    yield ee.models.random_weights
    for name in set(ee.registry.names()) - before:
        ee.registry.unregister(name)


@pytest.fixture(scope="module")
def waveform():
    rng = np.random.default_rng(7)
    t = np.arange(16000 * 9) / 16000
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * t)) / 2
    return (x + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def test_random_weights_is_the_same_network_untrained(random_weights, waveform):
    name = random_weights("musicnn-msd", seed=0)
    assert name == "musicnn-msd-random0"
    assert random_weights("musicnn-msd", seed=0) == name  # idempotent
    spec, trained_spec = ee.registry.get(name), ee.registry.get("musicnn-msd")
    assert dict(spec.layers) == dict(trained_spec.layers) and spec.clock == trained_spec.clock

    state = torch.random.get_rng_state()
    a = ee.load_model(name, device="cpu").embed(waveform, 16000)
    b = ee.load_model(name, device="cpu").embed(waveform, 16000)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's seed is untouched
    trained = ee.load_model("musicnn-msd", device="cpu")
    t = trained.embed(waveform, 16000)
    assert set(a) == set(t) == {"pooled", "embeddings", "penultimate", "taggrams"}
    for layer in a:
        assert a[layer].shape == t[layer].shape == (3, trained_spec.layers[layer])
        np.testing.assert_array_equal(a[layer], b[layer])  # the same seed: the same outputs
    assert np.abs(a["taggrams"] - t["taggrams"]).max() > 0.1  # not the trained weights
    other = ee.load_model(random_weights("musicnn-msd", seed=1), device="cpu")
    assert np.abs(other.embed(waveform, 16000)["embeddings"] - a["embeddings"]).max() > 0.01

    # the trained tagger with the control's weights gives the control's first segment (the
    # later ones differ in the 16 ms before each segment, which the control does not read)
    control = ee.load_model(name, device="cpu").model.network
    trained.network.load_state_dict(control.state_dict())
    swapped = trained.embed(waveform, 16000)
    for layer in a:
        np.testing.assert_allclose(swapped[layer][0], a[layer][0], rtol=1e-4, atol=1e-5)


def test_random_weights_of_vgg_extracts_like_its_tagger(random_weights, waveform, tmp_path):
    from audiofiles import write

    write(tmp_path / "music" / "one.wav", waveform[None], rate=16000)
    name = random_weights("vgg-mtt", seed=2)
    emb = ee.extract(tmp_path / "music", store=tmp_path / "store", models=["vgg-mtt", name],
                     device="cpu", progress=False)  # fmt: skip
    assert emb.layers(name) == emb.layers("vgg-mtt") == {"embeddings": 256, "taggrams": 50}
    segments = emb.segments_of(name)
    assert len(segments) == len(emb.segments_of("vgg-mtt")) == 3
    x, trained = emb.array(name, "embeddings"), emb.array("vgg-mtt", "embeddings")
    assert x.shape == trained.shape == (3, 256) and not np.allclose(x, trained, atol=1e-3)
    spaces = ee.similarity.spaces(emb)  # the same segments: comparable one by one
    assert set(spaces) == {f"{m}/{layer}" for m in ("vgg-mtt", name) for layer in emb.layers(m)}


def test_random_weights_needs_a_tagger_and_a_free_name(random_weights):
    with pytest.raises(ValueError, match=r"works on the built-in taggers .*'mfcc-stats' is not"):
        random_weights("mfcc-stats")
    with pytest.raises(ValueError, match="seed must be a whole number"):
        random_weights("vgg-msd", seed=-1)
    ee.register_model("vgg-msd-random9", lambda x: {"embeddings": x[:, :1]}, sample_rate=16000,
                      segment_seconds=1.0, layers={"embeddings": 1}, version="1")  # fmt: skip
    try:
        with pytest.raises(ValueError, match="'vgg-msd-random9' is already registered"):
            random_weights("vgg-msd", seed=9)
    finally:
        ee.registry.unregister("vgg-msd-random9")


def test_a_control_makes_no_pair_in_the_thesis_table(random_weights, rng):
    control = random_weights("musicnn-msd", seed=0)
    a = rng.normal(size=(100, 6))
    spaces = {
        "musicnn-msd/embeddings": a,
        "musicnn-mtt/embeddings": a + rng.normal(scale=0.01, size=a.shape),
        f"{control}/embeddings": rng.normal(size=(100, 6)),
    }
    table = ee.similarity.similarity_table(ee.nn_similarity_matrix(spaces, n=5))
    # only MSD ~ MTT: the control, of the same architecture, is not a third dataset
    assert list(table.index) == ["dataset"] and table.loc["dataset", "pairs"] == 1
    assert table.loc["dataset", "average S_n"] > 0.8
