"""Prompt workloads: stable ids and hashes, @FILE loading, one-line errors."""

from __future__ import annotations

import json

import pytest

from servelab.errors import BadInput
from servelab.workloads import get_workload, list_workloads, messages_hash


def test_bundled_workloads_have_stable_ids_and_hashes():
    assert list_workloads()[:3] == ["space-invaders", "prose", "json"]
    default = get_workload()
    assert default.id == "space-invaders-v1" and default.name == "space-invaders"
    assert "Space Invaders" in default.messages[0]["content"]
    assert default.hash == messages_hash(default.messages) == get_workload("space-invaders").hash
    names = list_workloads()
    assert len({get_workload(name).hash for name in names}) == len(names)


def test_file_workloads(tmp_path):
    text = tmp_path / "story.txt"
    text.write_text("Tell me a story.\n")
    workload = get_workload(f"@{text}")
    assert workload.messages == [{"role": "user", "content": "Tell me a story."}]
    assert workload.name == "story" and workload.id == f"story-{workload.hash[:12]}"
    chat = tmp_path / "chat.json"
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    chat.write_text(json.dumps({"messages": messages}))
    assert get_workload(f"@{chat}").messages == messages


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "prompt file not found"), ("", "is empty"), ('[{"role": "user"}]', "needs")],
)
def test_bad_files_are_bad_input(tmp_path, content, message):
    path = tmp_path / ("p.json" if content and content.startswith("[") else "p.txt")
    if content is not None:
        path.write_text(content)
    with pytest.raises(BadInput, match=message):
        get_workload(f"@{path}")


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(BadInput, match=r"expected one of space-invaders, prose, json.* or @FILE"):
        get_workload("haiku")


def test_depth_adds_the_asked_tokens_as_the_server_counts_them():
    from servelab.workloads import with_depth
    from tests.fakes.fault_server import FaultServer

    workload = get_workload("prose")
    with FaultServer() as server:
        deep = with_depth(workload, 3000, server.url, "fake-model")
        base = len(workload.messages[0]["content"].split())
        total = sum(len(m["content"].split()) for m in deep.messages)
    assert abs((total - base) - 3000) <= 30
    assert deep.messages[-1] == workload.messages[-1]
    assert deep.id == "prose-v1+depth3000" and deep.hash != workload.hash
    assert with_depth(workload, 0, "http://unused", "m") is workload
