"""LLM generation: reply parsing, the OpenAI-compatible endpoint against a local server, the tiny model."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from workbench.qa import generate
from workbench.endpoint import EndpointError, chat_url
from workbench.qa.generate import PromptTemplates

PASSAGES = [
    {"id": "p1", "text": "The Vell Line tram opened on 12 September 2009. It has 11 stops."},
    {"id": "p2", "text": "Canal Park covers 18 hectares. It opened in 2012."},
    {"id": "p3", "text": "The Ferrier Bridge is 280 metres long. It opened in May 2013."},
]


# parsing ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply,pairs,malformed", [
    ("Q1: When did the tram open?\nA1: On 12 September 2009.\n\nQ2: How many stops?\nA2: 11 stops.",
     [("When did the tram open?", "On 12 September 2009."), ("How many stops?", "11 stops.")], 0),
    ("1. **Question:** What is Canal Park?\n   **Answer:** A park of 18 hectares.\n2. Question: Who built it?\n",
     [("What is Canal Park?", "A park of 18 hectares.")], 1),
    ('Here you go:\n```json\n[{"question": "When?", "answer": "2009"}, {"q": "Where?", "a": "Vellmouth"}]\n```',
     [("When?", "2009"), ("Where?", "Vellmouth")], 0),
    ('{"pairs": [{"Question": "How long is the bridge?", "Answer": "280 metres."}]}',
     [("How long is the bridge?", "280 metres.")], 0),
    ("Q: first? A: one. Q: second? A: two.", [("first?", "one."), ("second?", "two.")], 0),
    ("A1: an answer with no question\nQ2: a question?\nA2: its answer", [("a question?", "its answer")], 1),
    ("the the the park park", [], 0),
])
def test_parse_qa_output(reply: str, pairs: list, malformed: int):
    parsed = generate.parse_qa_output(reply)
    assert parsed.pairs == pairs and parsed.malformed_items == malformed


def test_parse_paraphrase():
    assert generate.parse_paraphrase('Rewritten question: "In which year did the tram open?"\nMore text') == \
        "In which year did the tram open?"
    assert generate.parse_paraphrase("Sure, here is one.") is None


def test_templates_are_editable():
    templates = PromptTemplates(qa="Passage: {passage}\nWrite {n} pairs.", system="Be brief.")
    messages = templates.qa_messages("Some text.", 2)
    assert messages == [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Passage: Some text.\nWrite 2 pairs."}]
    assert "{passage}" in generate.QA_PROMPT and "{question}" in generate.PARAPHRASE_PROMPT


def test_chat_url():
    assert chat_url("http://h:1/v1") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1/") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"


# a local OpenAI-compatible server ---------------------------------------------------------------------

def fake_reply(messages: list[dict]) -> str:
    """Answers like a cooperative model: pairs taken from the passage, or a reworded question."""
    prompt = messages[-1]["content"]
    if prompt.startswith("Rewrite"):
        question = prompt.split("Question: ", 1)[1]
        return "Reworded: In other words, " + question[0].lower() + question[1:]
    passage = prompt.split("\n\nWrite ")[0].strip()
    first = passage.split(". ")[0].rstrip(".") + "."
    return f"Q1: What does the text say first?\nA1: {first}\nQ2: A question with no answer?\n"


class FakeServer:
    def __init__(self, api_key: str = "secret", fail_first: int = 0) -> None:
        self.requests: list[dict] = []
        self.api_key = api_key
        self.fail_first = fail_first
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": "not found"})
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._send(401, {"error": "bad key"})
                server.requests.append(body)
                if server.fail_first > 0:
                    server.fail_first -= 1
                    return self._send(503, {"error": "busy"})
                content = fake_reply(body["messages"])
                self._send(200, {"choices": [{"message": {"role": "assistant", "content": content}}]})

            def _send(self, code: int, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def server() -> Iterator[FakeServer]:
    with FakeServer() as s:
        yield s


def test_endpoint_generation_counts_pairs_and_malformed_items(server: FakeServer):
    gen = generate.EndpointGenerator(server.url, "test-model", api_key="secret", max_workers=2)
    calls = []
    result = generate.generate_pairs(PASSAGES, gen, n=2, batch_size=2, max_new_tokens=99,
                                     progress=lambda d, t: calls.append((d, t)))
    assert result.outputs == 3 and result.malformed_outputs == 0 and result.malformed_items == 3
    assert [(p["passage_id"], p["answer"]) for p in result.pairs] == [
        ("p1", "The Vell Line tram opened on 12 September 2009."), ("p2", "Canal Park covers 18 hectares."),
        ("p3", "The Ferrier Bridge is 280 metres long.")]
    assert all(p["generator"] == "endpoint:test-model" for p in result.pairs)
    assert calls == [(2, 3), (3, 3)]
    assert {r["model"] for r in server.requests} == {"test-model"}
    assert {r["max_tokens"] for r in server.requests} == {99}
    assert server.requests[0]["stop"] == ["Q3:", "Q3."]  # no third pair: stop at its label
    assert server.requests[0]["messages"][0] == {"role": "system", "content": generate.SYSTEM_PROMPT}


def test_endpoint_paraphrases(server: FakeServer):
    gen = generate.EndpointGenerator(server.url, "m", api_key="secret")
    found, malformed = generate.generate_paraphrases([{"question": "When did the tram open?", "answer": "2009."}],
                                                     gen, n=1)
    assert found == [["In other words, when did the tram open?"]] and malformed == 0


def test_endpoint_errors_are_explained(server: FakeServer):
    wrong_key = generate.EndpointGenerator(server.url, "m", api_key="wrong")
    with pytest.raises(EndpointError, match="HTTP 401.*API key"):
        wrong_key.chat([[{"role": "user", "content": "hi"}]], max_new_tokens=5)
    wrong_path = generate.EndpointGenerator(server.url.replace("/v1", "/api/v1"), "m", api_key="secret")
    with pytest.raises(EndpointError, match="HTTP 404"):
        wrong_path.chat([[{"role": "user", "content": "hi"}]], max_new_tokens=5)
    port = server.httpd.server_address[1]
    server.httpd.shutdown()
    server.httpd.server_close()
    gone = generate.EndpointGenerator(f"http://127.0.0.1:{port}", "m", api_key="secret")
    with pytest.raises(EndpointError, match="cannot connect"):
        gone.chat([[{"role": "user", "content": "hi"}]], max_new_tokens=5)


def test_endpoint_retries_busy_server():
    with FakeServer(fail_first=1) as s:
        gen = generate.EndpointGenerator(s.url, "m", api_key="secret", retries=2)
        reply = gen.chat([[{"role": "user", "content": "A fact. B fact.\n\nWrite 2 questions."}]], max_new_tokens=5)
        assert reply[0].startswith("Q1:") and len(s.requests) == 2


# the tiny local model --------------------------------------------------------------------------------

def test_local_generation_plumbing_with_the_tiny_model(tiny):
    model, tok = tiny
    gen = generate.LocalGenerator(model, tok, name="local:tiny")
    calls = []
    result = generate.generate_pairs(PASSAGES, gen, n=2, batch_size=2, max_new_tokens=6,
                                     progress=lambda d, t: calls.append((d, t)))
    assert result.outputs == 3 and len(result.samples) == 3
    assert result.malformed_outputs == 3 and result.pairs == []  # random weights write no Q:/A: pairs
    assert calls == [(2, 3), (3, 3)]
    assert tok.padding_side == "left"
    assert all(len(tok(r, add_special_tokens=False)["input_ids"]) <= 6 for r in result.samples)
    # A stop string ends a reply: greedy decoding gives the unstopped reply up to the stop string.
    messages = [PromptTemplates().qa_messages(PASSAGES[0]["text"], 2)]
    first = gen.chat(messages, max_new_tokens=6)[0]
    assert gen.chat(messages, max_new_tokens=6, stop=["\n"])[0] == first.split("\n")[0]
