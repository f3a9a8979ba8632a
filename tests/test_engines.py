"""Real engines on real photos: detection counts, embedding geometry, fingerprints, clear errors."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import rgb
from facematch import images
from facematch.engines import get_engine


@pytest.mark.parametrize("engine_fixture", ["dlib_engine", "sface"])
def test_group_photo_all_six_faces_found(engine_fixture, request, t1_path):
    engine = request.getfixturevalue(engine_fixture)
    faces = engine.analyze(rgb(t1_path))
    assert len(faces) == 6
    for f in faces:
        assert f.embedding.shape == (engine.dim,)
        assert np.linalg.norm(f.embedding) == pytest.approx(1.0, abs=1e-5)
        assert f.landmarks.shape == (5, 2)
        assert f.quality > 0
    # largest first
    sizes = [f.size for f in faces]
    assert sizes == sorted(sizes, reverse=True)


def test_dlib_different_people_are_far_apart(dlib_engine, t1_path):
    """dlib's published rule: the same person is within Euclidean distance 0.6 (on its raw vectors).

    On normalised vectors that corresponds to cosine ~0.9; the six people in t1.jpg must all be
    below what the same person typically scores (measured: max 0.906 raw-cos between t1 people,
    vs >= 0.95 for two photos of one person).
    """
    faces = dlib_engine.analyze(rgb(t1_path))
    emb = np.stack([f.embedding for f in faces])
    dists = [np.linalg.norm(a - b) for a, b in itertools.combinations(emb, 2)]
    assert min(dists) > 0.4, dists


def test_sface_different_people_have_low_similarity(sface, t1_path):
    """models/README: the highest cosine between two different people in t1.jpg is about 0.30."""
    faces = sface.analyze(rgb(t1_path))
    emb = np.stack([f.embedding for f in faces])
    sims = emb @ emb.T
    np.fill_diagonal(sims, -1)
    assert sims.max() < 0.40


@pytest.mark.parametrize("engine_fixture", ["dlib_engine", "sface"])
def test_same_person_scores_above_different_people(engine_fixture, request, demo_dir, t1_path):
    engine = request.getfixturevalue(engine_fixture)
    a = engine.analyze(rgb(demo_dir / "gallery" / "obama.jpg"))[0].embedding
    b = engine.analyze(rgb(demo_dir / "query" / "obama2.jpg"))[0].embedding
    others = [f.embedding for f in engine.analyze(rgb(t1_path))]
    same = float(a @ b)
    assert all(same > float(a @ o) for o in others)


@pytest.mark.parametrize("engine_fixture", ["dlib_engine", "sface"])
def test_tight_close_up_crop_is_found_by_padding(engine_fixture, request, demo_dir):
    """A booking photo cropped tightly to the face: detectors need context, so detect() pads and retries."""
    engine = request.getfixturevalue(engine_fixture)
    img = rgb(demo_dir / "gallery" / "obama.jpg")
    face = engine.detect(img)[0]
    x1, y1, x2, y2 = (int(v) for v in face.box)
    w, h = x2 - x1, y2 - y1
    tight = np.ascontiguousarray(img[y1 + h // 5 : y2 - h // 5, x1 + w // 5 : x2 - w // 5])
    # The raw detector of the original policy misses it: padding is what finds it. (sface's default now
    # also detects at the photo's own size, which finds this crop without padding: tests/test_accuracy_engine.py.)
    raw = get_engine("sface", upscale="640", border="miss", flip=False) if engine.name == "sface" else engine
    assert raw._detect(tight) == []
    assert len(raw.detect(tight)) == 1
    found = engine.detect(tight)
    assert len(found) == 1
    fx1, fy1, fx2, fy2 = found[0].box
    assert 0 <= fx1 < fx2 <= tight.shape[1] and 0 <= fy1 < fy2 <= tight.shape[0]


def test_small_faces_in_group_photo_need_upsampling(dlib_engine, t1_path):
    """Downscaled to half size, t1's faces are ~50 px: dlib's HOG finds them only with upsampling."""
    img = Image.open(t1_path).convert("RGB")
    small = np.asarray(img.resize((img.width // 2, img.height // 2)))
    raw, _, _ = dlib_engine._detector.run(small, 0, 0.0)
    found = dlib_engine.detect(small)
    assert len(found) > len(raw)
    assert len(found) >= 5


@pytest.mark.parametrize("engine_fixture", ["dlib_engine", "sface"])
def test_exif_rotated_photo(engine_fixture, request, demo_dir):
    """Phone photos are stored sideways with an EXIF orientation tag; decoding must turn them upright."""
    engine = request.getfixturevalue(engine_fixture)
    im = Image.open(demo_dir / "gallery" / "obama.jpg").convert("RGB")
    sideways = im.transpose(Image.Transpose.ROTATE_90)  # pixels stored rotated...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...and the tag says "rotate 90 clockwise to display"
    buf = io.BytesIO()
    sideways.save(buf, "JPEG", exif=exif.tobytes())
    dec = images.decode(buf.getvalue())
    assert (dec.width, dec.height) == im.size
    assert np.abs(dec.rgb.astype(int) - np.asarray(im, dtype=int)).mean() < 8  # upright again (JPEG noise aside)
    assert len(engine.detect(dec.rgb)) == 1


def test_fingerprint_names_engine_and_weights(sface):
    again = get_engine("sface")
    assert sface.fingerprint == again.fingerprint
    # name @ 16 hex of the weights' sha256, + the pre-processing when it is not the original policy
    weights, _, pre = sface.fingerprint.partition("+")
    assert weights.startswith("sface@") and len(weights) == len("sface@") + 16
    assert pre == "up=both+border=edge+flip"
    old = get_engine("sface", upscale="640", border="miss", flip=False)
    assert old.fingerprint == weights


def test_missing_model_files_give_one_clear_message(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        get_engine("sface", models=tmp_path)
    msg = str(e.value)
    assert str(tmp_path / "sface") in msg and "models/README.md" in msg
    with pytest.raises(FileNotFoundError) as e:
        get_engine("insightface:buffalo_l", models=tmp_path)
    assert "facematch models fetch buffalo_l" in str(e.value)
    assert not (tmp_path / "buffalo_l").exists()  # and nothing was downloaded or created


def test_unknown_engine():
    with pytest.raises(ValueError, match="unknown engine"):
        get_engine("nope")


def test_models_dir_is_the_committed_folder_unless_told_otherwise(monkeypatch, tmp_path):
    from facematch.engines import models_dir

    monkeypatch.delenv("FACEMATCH_MODELS", raising=False)
    project = Path(__file__).resolve().parents[1] / "models"
    assert models_dir() == project and (project / "sface" / "LICENSE.sface").is_file()
    monkeypatch.setenv("FACEMATCH_MODELS", str(tmp_path / "elsewhere"))
    assert models_dir() == tmp_path / "elsewhere"  # an organisation's own folder of packs
    with pytest.raises(FileNotFoundError, match="sface"):  # and an engine loads from there or says what is missing
        get_engine("sface")


def test_a_missing_optional_part_names_the_command_that_installs_it():
    from facematch.extras import MissingExtra, require

    require("dlib", "dlib", "face_recognition_models")  # the test extra installs every optional part
    with pytest.raises(MissingExtra, match=r"pip install 'facematch\[plots\]'") as e:
        require("plots", "matplotlib", "no_such_module_for_facematch")
    assert "no_such_module_for_facematch" in str(e.value) and "matplotlib" not in str(e.value)
