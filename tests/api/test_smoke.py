from __future__ import annotations

from tests.support import Api, world


async def test_me_returns_badges(api: Api) -> None:
    await api.seed(world())
    data = await api.ok(
        "{ me { key name hasLoggedIn badges { module { key } literacy fluency } } }", as_user="t1"
    )
    assert data["me"]["key"] == "t1"
    badges = {b["module"]["key"]: b for b in data["me"]["badges"]}
    assert set(badges) == {"m1", "m2", "m3"}
    assert badges["m2"]["fluency"] is None
    assert badges["m1"]["literacy"] == "NOT_STARTED"
