"""Nearest neighbours and NN-similarity on constructed cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import ortho_group

from embedexplore.similarity import (
    knn,
    nn_similarity,
    nn_similarity_matrix,
    plot_matrix,
    similarity_table,
)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_equals_brute_force(rng, metric):
    x = rng.normal(size=(300, 12)).astype(np.float32)
    idx, dist = knn(x, 7, metric=metric, block=50)
    full = cdist(x.astype(np.float64), x.astype(np.float64), metric=metric)
    np.fill_diagonal(full, np.inf)
    expected = np.argsort(full, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_allclose(dist, np.take_along_axis(full, expected, 1), rtol=1e-4, atol=1e-5)


def test_the_query_is_excluded_by_identity_not_position():
    x = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.9, 0.1]], np.float32)
    idx, dist = knn(x, 3, metric="euclidean")
    # items 0, 1, 2 are duplicates: each one's nearest are the two others (distance 0), in
    # index order, and never itself
    np.testing.assert_array_equal(idx[0], [1, 2, 4])
    np.testing.assert_array_equal(idx[1], [0, 2, 4])
    np.testing.assert_array_equal(idx[2], [0, 1, 4])
    assert dist[0, 0] == 0.0 and dist[0, 1] == 0.0
    for q in range(len(x)):
        assert q not in idx[q]


def test_identical_and_rotated_spaces_give_one(rng):
    a = rng.normal(size=(400, 16))
    rotation = ortho_group.rvs(16, random_state=1)
    s = nn_similarity(a, a, n=(5, 10, 50))
    assert (s == 1.0).all()
    for metric in ("cosine", "euclidean"):
        assert nn_similarity(a, a @ rotation, n=10, metric=metric) == pytest.approx(1.0)
    # scaling changes nothing either; a different space does
    assert nn_similarity(a, 3.0 * a, n=10) == pytest.approx(1.0)


def test_independent_random_spaces_give_n_over_n_items(rng):
    n_items = 1000
    a, b = rng.normal(size=(n_items, 8)), rng.normal(size=(n_items, 8))
    for n in (10, 100):
        s = nn_similarity(a, b, n=n)
        expected = n / (n_items - 1)
        assert abs(s - expected) < 4 * np.sqrt(expected / (n * n_items)) + 0.01, (n, s)


def test_duplicates_in_both_spaces(rng):
    base = rng.normal(size=(200, 6))
    a = np.repeat(base, 2, axis=0)  # every item twice
    # the duplicate of an item is its nearest neighbour, never the item itself
    idx_a, _ = knn(a, 1, metric="euclidean")
    partner = np.arange(len(a)) ^ 1
    np.testing.assert_array_equal(idx_a[:, 0], partner)
    assert nn_similarity(a, a, n=1) == 1.0
    other = np.repeat(rng.normal(size=(200, 6)), 2, axis=0)  # other items, same duplication
    assert nn_similarity(a, other, n=1) == 1.0  # S_1 sees only the duplicates
    assert nn_similarity(a, other, n=10) < 0.2


def test_matrix_table_and_plot(rng):
    a = rng.normal(size=(300, 10))
    spaces = {
        "musicnn-msd/embeddings": a,
        "musicnn-mtt/embeddings": a + rng.normal(scale=0.01, size=a.shape),
        "vgg-msd/embeddings": rng.normal(size=(300, 10)),
        "musicnn-msd/taggrams": a[:, :5],
    }
    m = nn_similarity_matrix(spaces, n=10)
    assert (np.diag(m) == 1.0).all() and (m.to_numpy() == m.to_numpy().T).all()
    assert m.loc["musicnn-msd/embeddings", "musicnn-mtt/embeddings"] > 0.8
    assert m.loc["musicnn-msd/embeddings", "vgg-msd/embeddings"] < 0.15
    table = similarity_table(m)
    assert table.loc["dataset", "pairs"] == 1 and table.loc["dataset", "average S_n"] > 0.8
    assert table.loc["architecture", "average S_n"] < 0.15
    assert table.loc["layer", "pairs"] == 1
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_matrix(m)
    assert len(ax.texts) == 16 and "S_10" in ax.get_title()


def test_a_metric_per_space(rng):
    a = rng.normal(size=(300, 8))
    # cosine neighbours of a equal euclidean neighbours of its rows scaled to unit length
    unit = a / np.linalg.norm(a, axis=1, keepdims=True)
    assert nn_similarity(a, unit, n=10, metric=("cosine", "euclidean")) == pytest.approx(1.0)
    assert nn_similarity(a, unit * rng.uniform(1, 9, size=(300, 1)), n=10) == pytest.approx(1.0)


# Six items, two per track, on a line in two spaces; in both, an item's nearest is its track's
# other item. a:  t0 at 0, 0.5   t1 at 3, 3.5   t2 at 10, 10.5
#             b:  t0 at 0, 0.5   t1 at 3, 3.5   t2 at -3, -2.5
SAME_TRACK_A = np.array([0.0, 0.5, 3.0, 3.5, 10.0, 10.5])[:, None]
SAME_TRACK_B = np.array([0.0, 0.5, 3.0, 3.5, -3.0, -2.5])[:, None]
PAIRS = np.array(["t0", "t0", "t1", "t1", "t2", "t2"])


def test_s_n_without_same_track_neighbours_by_hand():
    a, b = SAME_TRACK_A, SAME_TRACK_B
    assert nn_similarity(a, b, n=1, metric="euclidean") == 1.0  # the track-mates agree
    # own track excluded, nearest in a: 0->2 1->2 2->1 3->1 4->3 5->3
    #                              in b: 0->5 1->2 2->1 3->1 4->0 5->0: 3 of 6 agree
    kw = {"metric": "euclidean", "tracks": PAIRS, "exclude_same_track": True}
    assert nn_similarity(a, b, n=1, **kw) == 0.5
    # n=4 takes every candidate in both spaces
    s = nn_similarity(a, b, n=(1, 4), **kw)
    assert s.to_dict() == {1: 0.5, 4: 1.0} and s.name == "S_n"
    # by artist: t0 and t1 are one artist's; 0..3 then see only 4 and 5, and 4, 5 only 0..3
    # a: 0->4 1->4 2->4 3->4 4->3 5->3; b: 0->5 1->5 2->5 3->5 4->0 5->0: none agree
    artists = np.array(["p", "p", "p", "p", "q", "q"])
    kw = {"metric": "euclidean", "artists": artists, "exclude_same_artist": True}
    assert nn_similarity(a, b, n=1, **kw) == 0.0
    m = nn_similarity_matrix(
        {"a": a, "b": b, "a2": 2 * a}, n=1, metric="euclidean", tracks=PAIRS,
        exclude_same_track=True,
    )  # fmt: skip
    assert m.loc["a", "b"] == m.loc["b", "a2"] == 0.5 and m.loc["a", "a2"] == 1.0


def test_s_n_exclusions_say_what_is_missing():
    a, b = SAME_TRACK_A, SAME_TRACK_B
    with pytest.raises(ValueError, match="exclude_same_track=True needs tracks="):
        nn_similarity(a, b, n=1, exclude_same_track=True)
    with pytest.raises(ValueError, match="no item has n=5 neighbours left after the exclusions"):
        nn_similarity(a, b, n=5, tracks=PAIRS, exclude_same_track=True)
    with pytest.raises(ValueError, match="no item has n=5 neighbours left"):
        nn_similarity_matrix({"a": a, "b": b}, n=5, tracks=PAIRS, exclude_same_track=True)
