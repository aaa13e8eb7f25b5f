"""A loopback server speaking the OpenAI chat-completions wire format, for flow tests that need a fast teacher.

Generation prompts (Self-Instruct's "Task N:" lists) get numbered, mutually dissimilar instructions built from
the seed tasks' vocabulary; every other prompt gets a short answer. Every request body is recorded.
"""

from __future__ import annotations

import json
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from synthfoundry.recipes.self_instruct import load_seed_tasks

VOCABULARY = sorted({w for t in load_seed_tasks() for w in re.findall(r"[a-z]{5,}", t.instruction.lower())})


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reply(self, body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        rng = random.Random(json.dumps(body, sort_keys=True))
        if prompt.rstrip().endswith(":") and "Task 1:" in prompt:
            first = int(re.findall(r"Task (\d+):\s*$", prompt)[0])
            lines = [" ".join(["Explain", *rng.sample(VOCABULARY, 6)]) + "."]
            lines += [f"Task {first + i}: Describe " + " ".join(rng.sample(VOCABULARY, 6)) + "." for i in (1, 2)]
            return "\n".join(lines)
        return "Here is a careful answer: " + " ".join(rng.sample(VOCABULARY, 12)) + "."

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                text = fake.reply(body)
                payload = json.dumps(
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
