import asyncio
import httpx
from fastapi import FastAPI
from atrium.app import build_app
from atrium.config import Settings
from atrium.engines.fake import FakeEngine
from tests.api.conftest import client_for, FAKE_MODEL

CHAT = {"model": FAKE_MODEL, "messages": [{"role": "user", "content": "Hello"}]}

async def test_dup(client: httpx.AsyncClient) -> None:
    rs = await asyncio.gather(*[client.post("/admin/deployments", json={"name": "dup", "model": FAKE_MODEL}) for _ in range(6)])
    print([r.status_code for r in rs], [r.text for r in rs if r.status_code >= 500])

async def test_full(settings: Settings, fake_engine: FakeEngine) -> None:
    s = settings.model_copy(update={"usage_queue_size": 1, "usage_flush_interval_s": 60})
    app = build_app(s, engine=fake_engine)
    async with app.router.lifespan_context(app):
        key = s.admin_key_path.read_text().strip()
        async with client_for(app, key) as c:
            rs = await asyncio.gather(*[c.post("/v1/chat/completions", json=CHAT) for _ in range(12)])
            print([r.status_code for r in rs])
            u = app.state.atrium.usage
            print(u.counters, u.depth)
