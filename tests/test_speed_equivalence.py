"""Speed changes that must not change results: each fast path against the slow one, on real photos.

- The indexer's main process takes the engine's fingerprint from engine_info (its weight files
  hashed, no model loaded): it must be the loaded engine's, or embeddings would be filed wrongly.
- sface aligns faces with engines/align.norm_crop instead of importing insightface for it: the
  chips must be insightface's, pixel for pixel.
- SFace runs through OpenCV's FaceRecognizerSF (about half the time of onnxruntime): the embeddings
  must stay those of the file as onnxruntime runs it by default.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from conftest import variants
from facematch import images
from facematch.engines import engine_info, get_engine
from facematch.engines.base import normalise


@pytest.mark.parametrize("name", ["sface", "dlib"])
def test_engine_info_is_the_loaded_engines_fingerprint_and_size(name, request):
    engine = request.getfixturevalue("dlib_engine" if name == "dlib" else name)
    info = engine_info(name)
    assert (info.name, info.fingerprint, info.dim) == (engine.name, engine.fingerprint, engine.dim)


def test_engine_info_fails_like_get_engine_without_the_model_files(tmp_path):
    with pytest.raises(FileNotFoundError) as loading:
        get_engine("sface", models=tmp_path)
    with pytest.raises(FileNotFoundError) as hashing:
        engine_info("sface", models=tmp_path)
    assert str(hashing.value) == str(loading.value)


def test_sface_through_opencv_gives_the_embeddings_of_onnxruntime(sface, tmp_path, t1_path):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    plain = ort.InferenceSession(str(sface.weight_files()[1]), opts, providers=["CPUExecutionProvider"])
    chips = []
    for path in [t1_path, *variants(tmp_path / "photos", 8)]:
        rgb = images.decode(images.read_file(path)).rgb
        chips += [sface.align(rgb, f) for f in sface.detect(rgb)]
    assert len(chips) >= 14  # six faces in t1.jpg, at least one in each variant
    fast = normalise(sface._embed_chips(chips))
    name = plain.get_inputs()[0].name
    slow = normalise(
        np.array([plain.run(None, {name: chip.transpose(2, 0, 1)[None].astype(np.float32)})[0][0] for chip in chips])
    )
    # Measured on LFW chips: cosine 1.00000 between the two runtimes (bench/accuracy.py's engine check).
    np.testing.assert_allclose(fast, slow, atol=1e-5)


def test_sface_chips_are_insightfaces_norm_crop_pixel_for_pixel(sface, tmp_path, t1_path):
    from insightface.utils import face_align

    n = 0
    for path in [t1_path, *variants(tmp_path / "photos", 8)]:
        rgb = images.decode(images.read_file(path)).rgb
        for face in sface.detect(rgb):
            np.testing.assert_array_equal(sface.align(rgb, face), face_align.norm_crop(rgb, face.landmarks, 112))
            n += 1
    assert n >= 14
