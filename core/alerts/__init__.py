"""Alerts as the domain sees them: their kinds and routes, the alert log, and the routes made in chat.

The scheduler (`scheduler/`) decides when to look and sends the cards; the chat (`bot/`) marks lots
handled and edits routes; both go through this package, which imports nothing outside `core`.
"""

from core.alerts.log import Finding, Plan, lot_subject, mark_handled, open_states, plan, write_plan
from core.alerts.models import AlertJob, AlertRoute, AlertState
from core.alerts.route import (
    ALERT_NAMES_ZH,
    DEFAULT_ROLES,
    AlertKind,
    Destination,
    Route,
    StoredRoute,
    add_route,
    describe_route_lines,
    remove_route,
    resolve_scope,
    stored_routes,
)

__all__ = [
    "ALERT_NAMES_ZH",
    "DEFAULT_ROLES",
    "AlertJob",
    "AlertKind",
    "AlertRoute",
    "AlertState",
    "Destination",
    "Finding",
    "Plan",
    "Route",
    "StoredRoute",
    "add_route",
    "describe_route_lines",
    "lot_subject",
    "mark_handled",
    "open_states",
    "plan",
    "remove_route",
    "resolve_scope",
    "stored_routes",
    "write_plan",
]
