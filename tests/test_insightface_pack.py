"""insightface packs: the real download path (insightface's own downloader) against a local zip.

The zip is built here: a tiny SCRFD-shaped detector made by the test (a fake is the point: it
exercises insightface's model routing and our loading code) plus the real SFace recognizer. It
is served from 127.0.0.1 only; nothing on the internet is contacted.
"""

from __future__ import annotations

import functools
import http.server
import threading
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import rgb
from facematch import cli
from facematch.engines import get_engine, models_dir


def tiny_scrfd(path: Path, size: int = 640) -> None:
    """An ONNX graph with SCRFD's 9 outputs (3 strides x scores/boxes/keypoints) that finds no face."""
    nodes, outputs = [], []
    inp = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, size, size])
    for kind, width in (("score", 1), ("bbox", 4), ("kps", 10)):
        for stride in (8, 16, 32):
            n = (size // stride) ** 2 * 2
            name = f"{kind}_{stride}"
            shape = helper.make_tensor(f"{name}_shape", TensorProto.INT64, [2], [n, width])
            nodes.append(helper.make_node("Constant", [], [f"{name}_shape_c"], value=shape))
            zero = helper.make_tensor("v", TensorProto.FLOAT, [1], [0.0])
            nodes.append(helper.make_node("ConstantOfShape", [f"{name}_shape_c"], [name], value=zero))
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [n, width]))
    graph = helper.make_graph(nodes, "tiny_scrfd", [inp], outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


@pytest.fixture
def served_zip(tmp_path):
    """A local HTTP server holding testpack.zip; yields (base url, request counter)."""
    site = tmp_path / "site"
    site.mkdir()
    pack = tmp_path / "pack"
    pack.mkdir()
    tiny_scrfd(pack / "det_tiny.onnx")
    rec_src = models_dir() / "sface" / "face_recognition_sface_2021dec_int8bq.onnx"
    with zipfile.ZipFile(site / "testpack.zip", "w") as z:
        z.write(pack / "det_tiny.onnx", "det_tiny.onnx")
        z.write(rec_src, "w_sface.onnx")
    hits = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", hits
    server.shutdown()


def test_fetch_pack_with_insightfaces_downloader_then_load_it(
    served_zip, tmp_path, monkeypatch, sface, demo_dir, capsys
):
    from insightface.utils import storage

    url, hits = served_zip
    monkeypatch.setattr(storage, "MODEL_ZOO_RELEASE_DOWNLOAD_URL", url)
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("FACEMATCH_MODELS", str(models))

    with pytest.raises(FileNotFoundError, match="facematch models fetch testpack"):
        get_engine("insightface:testpack")

    assert cli.main(["models", "fetch", "testpack"]) == 0
    assert hits == ["/testpack.zip"]
    out = capsys.readouterr().out  # the way on to a calibrated, evaluated index
    assert "evaluate calibrate --images LFW_DIR --engine insightface:testpack --install" in out
    assert "index PHOTO_DIR --engine insightface:testpack" in out
    assert sorted(p.name for p in (models / "testpack").glob("*.onnx")) == ["det_tiny.onnx", "w_sface.onnx"]
    assert cli.main(["models", "fetch", "testpack"]) == 0
    assert hits == ["/testpack.zip"]  # already there: no second download

    engine = get_engine("insightface:testpack")
    assert engine.name == "insightface:testpack" and engine.dim == 128
    assert engine.fingerprint.startswith("insightface:testpack@")
    img = rgb(demo_dir / "gallery" / "obama.jpg")
    assert engine.detect(img) == []  # the tiny detector finds nothing, by construction
    faces = engine.embed(img, sface.detect(img))  # real recognizer on real aligned faces
    assert len(faces) == 1
    assert faces[0].embedding.shape == (128,)
    assert np.linalg.norm(faces[0].embedding) == pytest.approx(1.0, abs=1e-5)
