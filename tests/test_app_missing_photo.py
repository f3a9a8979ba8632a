"""An archive photo moved, deleted or damaged after it was indexed never breaks a page: the workbench shows why
in its place and the decision can still be recorded (real app in AppTest, real model, real demo index)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_app import candidate_buttons, open_case, upload

from conftest import texts
from facematch import demo
from facematch.app import serve
from facematch.indexing import index_folder


@pytest.fixture
def at(tmp_path, monkeypatch) -> tuple[AppTest, Path]:
    idx = tmp_path / "index"
    gallery = demo.build_gallery(idx / "photos")
    index_folder(gallery, idx, "sface", workers=1, progress=False)
    monkeypatch.setenv("FACEMATCH_INDEX", str(idx))
    app = AppTest.from_file(str(serve.APP), default_timeout=180)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app, gallery


def test_compare_with_the_archive_photo_gone_says_why_and_still_decides(at):
    app, gallery = at
    open_case(app, "Brother (photo gone)")
    upload(app, ("obama2.jpg", demo.query_photo().read_bytes()))
    assert "Candidate #1" in texts(app)
    for photo in gallery.iterdir():  # the archive's files moved away while the app runs
        photo.unlink()
    candidate_buttons(app)[0].click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    t = texts(app)
    assert "archive photo unreadable" in t  # the aligned face and the whole photo, each in its place
    app.radio(key="decision").set_value("reject")
    next(b for b in app.button if b.label == "Record decision").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
