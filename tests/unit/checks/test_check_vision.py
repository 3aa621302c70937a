"""Vision check against the scripted server: pass, always-"Red", wrong colours, rejection."""

from __future__ import annotations

import io

from PIL import Image

from servelab.checks.chat import ChatClient
from servelab.checks.vision import IMAGES, check_vision, colours_named, names_exactly
from servelab.workloads.images import COLOURS, png_data_url, solid_png
from tests.fakes.scripted_server import ScriptedServer


def _run(mode: str, max_images: int | None = None):
    with ScriptedServer(mode) as server, ChatClient(server.url, server.model) as client:
        return check_vision(client, max_images), server


def test_solid_png_is_one_colour_at_its_size():
    image = Image.open(io.BytesIO(solid_png(COLOURS["yellow"], 512)))
    assert image.size == (512, 512)
    assert image.convert("RGB").getcolors() == [(512 * 512, (255, 255, 0))]
    assert png_data_url(b"\x89PNG").startswith("data:image/png;base64,")


def test_answers_are_normalised_and_synonyms_accepted():
    assert colours_named("  RED!! ") == ["red"]
    assert colours_named("It's crimson.") == ["red"]
    assert names_exactly("Golden.", ["yellow"])
    assert not names_exactly("Red or maybe green", ["green"])
    assert not names_exactly("Reddish", ["red"])  # not a colour word we accept
    assert names_exactly("First yellow, then blue.", ["yellow", "blue"])
    assert not names_exactly("Blue and yellow", ["yellow", "blue"])


def test_correct_answers_pass_and_every_answer_is_recorded():
    result, server = _run("correct")
    assert result.passed, result.detail
    assert [item["expected"] for item in result.evidence] == [c for c, _ in IMAGES]
    assert all(item["answer"] and item["correct"] for item in result.evidence)
    assert "two-image request skipped" in result.detail
    sent = server.requests[0]["messages"][0]["content"]
    assert sent[0]["text"] == "What color is this image? One word."
    assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_two_image_request_when_the_recipe_allows_it():
    result, server = _run("correct", max_images=2)
    assert result.passed, result.detail
    pair = result.evidence[-1]
    assert pair["expected"] == "yellow, blue" and pair["correct"]
    assert len(server.requests[-1]["messages"][0]["content"]) == 3


def test_a_model_that_always_answers_red_fails():
    result, _ = _run("red", max_images=2)
    assert not result.passed
    assert "5 of 6 answers wrong" in result.detail
    assert [item["correct"] for item in result.evidence][:5] == [True, False, False, False, False]


def test_wrong_colours_fail():
    result, _ = _run("wrong")
    assert not result.passed
    assert all(not item["correct"] for item in result.evidence)


def test_a_server_that_rejects_images_fails_with_the_reason():
    result, _ = _run("reject-images")
    assert not result.passed
    assert "rejected an image request (HTTP 400: image input is not supported)" in result.detail
    assert result.evidence[0]["error"].startswith("HTTP 400")
