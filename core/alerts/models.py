"""The alerts' tables: one row per scheduled job (its lock and last slot), one per alert subject (the log),
and the alert routes admins made in chat. They are the domain's, not the scheduler's: the chat marks lots
handled and edits routes in them, and the scheduler's runs read and write them.

The log is what keeps alerts quiet and exactly-once: a subject (a product in a warehouse, a lot) is
alerted when it enters a state, again at most once a day while it stays, and told "已恢复" when it
leaves. Rows are changed in the same transaction that queues the messages, so a re-run finds them done.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from core.columns import AwareDateTime, utcnow


class AlertJob(SQLModel, table=True):
    """Locked (SELECT … FOR UPDATE) by every run of the job, so runs on different instances queue."""

    __tablename__ = "alert_jobs"

    name: str = Field(primary_key=True, max_length=32)
    last_slot_at: datetime | None = Field(default=None, sa_type=AwareDateTime)  # last scheduled time served
    last_run_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    last_summary: str = Field(default="", max_length=512)


class AlertState(SQLModel, table=True):
    """The state of one alert subject; `resolved_at` set once it cleared and "已恢复" was sent."""

    __tablename__ = "alert_states"

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=96, unique=True)  # "low_stock:12:3", "low_stock:12:all", "near_expiry:45"
    kind: str = Field(max_length=16, index=True)
    state: str = Field(max_length=16)  # "low", "near", "expired"
    label: str = Field(default="", max_length=256)  # what it was about, for the "已恢复" line
    product_id: int | None = Field(default=None, foreign_key="products.id")
    warehouse_id: int | None = Field(default=None, foreign_key="warehouses.id")
    lot_id: int | None = Field(default=None, foreign_key="lots.id")
    opened_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    last_alerted_on: date | None = None  # company-local day of the last alert
    resolved_at: datetime | None = Field(default=None, sa_type=AwareDateTime)
    handled_note: str = Field(default="", max_length=128)  # 促销 / 退货 / 报损 …: no more daily repeats
    handled_by: int | None = Field(default=None, foreign_key="users.id")
    handled_at: datetime | None = Field(default=None, sa_type=AwareDateTime)


class AlertRoute(SQLModel, table=True):
    """A route an admin made in chat (`告警路由 添加`); psibot.toml's routes are never stored here.

    One row per route rather than a list in `settings`: two admins adding at once cannot overwrite each
    other, each route keeps its number for `告警路由 删除 N`, and warehouse and category are held by id,
    so renaming them keeps the route.
    """

    __tablename__ = "alert_routes"

    id: int | None = Field(default=None, primary_key=True)
    alerts: str = Field(max_length=64)  # alert kinds, comma-separated: "low_stock,near_expiry"
    warehouse_id: int | None = Field(default=None, foreign_key="warehouses.id")
    category_id: int | None = Field(default=None, foreign_key="categories.id")
    destination_kind: str = Field(max_length=8)  # "role" | "chat" | "robot", as core.alerts.Destination
    destination: str = Field(max_length=256)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
