"""Service settings, read from MICROCRED_* environment variables and a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import structlog
from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "microcred-development-secret-do-not-use-in-production"

log = structlog.get_logger("microcred.settings")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MICROCRED_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./microcred.db"
    broadcast_url: str = "memory://"
    jwt_secret: str = DEV_JWT_SECRET
    # Seconds a user token minted by `microcred token` lives unless --ttl says otherwise.
    token_ttl: int = 8 * 3600
    log_level: str = "INFO"
    # Websocket clients must send connection_init within this many seconds (the
    # graphql-ws reference server uses 3 s; Strawberry's default of 60 s is too loose).
    ws_init_timeout: float = 3.0
    # Frames a feed socket may have waiting before it is closed as too slow (code 4499).
    ws_queue_limit: int = 1000
    # Browser origins allowed to open the websocket; empty means same-origin only.
    allowed_origins: list[str] = []

    @model_validator(mode="after")
    def _production_needs_a_real_secret(self) -> Settings:
        if self.env == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError(
                "MICROCRED_JWT_SECRET must be set to a private value when MICROCRED_ENV=production"
            )
        return self

    @property
    def graphiql(self) -> bool:
        return self.env != "production"

    @property
    def uses_dev_secret(self) -> bool:
        return self.jwt_secret == DEV_JWT_SECRET

    def warn_if_insecure(self) -> None:
        if self.uses_dev_secret:
            log.warning(
                "Using the built-in development JWT secret; set MICROCRED_JWT_SECRET before "
                "exposing this service"
            )


@lru_cache
def get_settings() -> Settings:
    return Settings()
