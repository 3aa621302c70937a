"""Names of endpoint benches: the model id's last part and the server's host:port."""

from servelab.serving import endpoint_identity


def test_two_servers_of_one_file_get_distinct_stable_names():
    model = "/srv/models/stories260k/stories260k.gguf"
    first = endpoint_identity("http://127.0.0.1:8080", model, "b11434")
    second = endpoint_identity("http://127.0.0.1:8081", model, "b11434")
    assert first == ("stories260k.gguf (127.0.0.1:8080)", "b11434")
    assert second[0] == "stories260k.gguf (127.0.0.1:8081)"
    assert endpoint_identity("http://127.0.0.1:8080", model, "b11434") == first  # stable
    assert endpoint_identity("https://api.example.test", "org/model-awq", None) == (
        "model-awq (api.example.test:443)",
        "unversioned",
    )
