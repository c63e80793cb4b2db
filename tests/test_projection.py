"""Projections: what each method keeps, determinism, the cache, tag axes, and inputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

import embedexplore
from embedexplore.projection import pca, project


def _blobs(rng, n=600, d=40, k=4):
    centres = rng.normal(scale=8.0, size=(k, d))
    labels = np.repeat(np.arange(k), n // k)
    return (centres[labels] + rng.normal(size=(len(labels), d))).astype(np.float32), labels


def test_pca_matches_scikit_learn_up_to_sign(rng):
    x = rng.normal(size=(500, 30)) * np.linspace(5, 0.1, 30)
    ours = pca(x, 3, device="cpu")
    ref = PCA(3).fit_transform(x)
    for j in range(3):
        assert np.allclose(ours[:, j], ref[:, j], atol=1e-6) or np.allclose(
            ours[:, j], -ref[:, j], atol=1e-6
        )


def test_std_pca_weighs_every_dimension_alike_and_skips_constant_ones(rng):
    x = rng.normal(size=(400, 5))
    x[:, 0] *= 1000.0  # plain PCA sees only this dimension
    x = np.hstack([x, np.full((400, 1), 3.0)])  # a constant dimension
    plain = project(x, "pca", cache=False)
    std = project(x, "std-pca", cache=False)
    assert abs(np.corrcoef(plain[:, 0], x[:, 0])[0, 1]) > 0.999
    assert abs(np.corrcoef(std[:, 0], x[:, 0])[0, 1]) < 0.9
    assert np.isfinite(std).all()


@pytest.mark.parametrize("method", ["pca", "std-pca", "tsne", "umap"])
def test_methods_keep_clusters_and_are_deterministic(rng, method, tmp_path):
    x, labels = _blobs(rng)
    a = project(x, method, seed=3, cache=tmp_path)
    assert a.shape == (len(x), 2) and a.dtype == np.float32
    b = project(x, method, seed=3, cache=False)  # computed again, not read from the cache
    np.testing.assert_array_equal(a, b)
    # each point's nearest neighbour in 2-D belongs to its own cluster
    d = ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(1)] == labels).mean() > 0.95


def test_cache_returns_the_stored_result_and_keys_on_everything(rng, tmp_path, monkeypatch):
    x, _ = _blobs(rng, n=200)
    first = project(x, "umap", seed=0, cache=tmp_path)
    assert len(list(tmp_path.glob("umap-*.npy"))) == 1
    import embedexplore.projection as pj

    def fail(*a, **k):
        raise AssertionError("computed again")

    monkeypatch.setattr(pj, "_compute", fail)
    np.testing.assert_array_equal(project(x, "umap", seed=0, cache=tmp_path), first)
    for other in ({"seed": 1}, {"n_neighbors": 5}, {"dims": 3}):
        with pytest.raises(AssertionError, match="computed again"):
            project(x, "umap", cache=tmp_path, **{"seed": 0, **other})
    with pytest.raises(AssertionError, match="computed again"):
        project(x[1:], "umap", seed=0, cache=tmp_path)


def test_tag_axes_and_inputs(rng):
    x = rng.random(size=(50, 50)).astype(np.float32)
    np.testing.assert_array_equal(project(x, "tags", tags=(3, 7)), x[:, [3, 7]])
    np.testing.assert_array_equal(project(x, "pca", every=5, cache=False),
                                  project(x[::5], "pca", cache=False))  # fmt: skip
    with pytest.raises(ValueError, match="tags="):
        project(x, "tags")
    with pytest.raises(ValueError, match="method must be"):
        project(x, "lda")
    with pytest.raises(ValueError, match="NaN"):
        project(np.full((5, 3), np.nan), "pca")


@pytest.mark.realmusic
def test_projecting_extracted_embeddings(tmp_path):
    from audiofiles import excerpt
    from realmusic import real_music

    for src in sorted(real_music("asc-music").glob("*.mp3")):
        excerpt(src, tmp_path / "music" / src.name, 12)
    coll = embedexplore.scan(tmp_path / "music", cache=False, progress=False)
    emb = embedexplore.extract(coll, store=tmp_path / "store", models="musicnn-msd",
                               device="cpu", progress=False)  # fmt: skip
    n = len(emb.segments)
    assert n >= 9
    xy = project(emb, "pca", model="musicnn-msd", cache=False)
    assert xy.shape == (n, 2)
    tags = project(emb, "tags", model="musicnn-msd", tags=("guitar", "Electronic"))
    labels = [t.lower() for t in emb_labels()]
    taggrams = np.asarray(emb.array("musicnn-msd", "taggrams"), np.float32)
    np.testing.assert_array_equal(tags[:, 0], taggrams[:, labels.index("guitar")])
    np.testing.assert_array_equal(tags[:, 1], taggrams[:, labels.index("electronic")])
    per_track = project(emb, "pca", model="musicnn-msd", level="track", cache=False)
    assert per_track.shape == (3, 2)
    some = project(emb, "pca", model="musicnn-msd", rows=slice(0, 6), cache=False)
    assert some.shape == (6, 2)
    with pytest.raises(ValueError, match="no tag"):
        project(emb, "tags", model="musicnn-msd", tags=("guitar", "kazoo"))


def emb_labels():
    from embedexplore import registry

    return registry.get("musicnn-msd").labels
