"""The httptrading dialect (API.md §5, document 002): `/httptrading/api/{instanceId}/...` for
each account with an `httptrading_instance_id`, answered in httptrading's envelope."""

from fastapi import FastAPI

from tradebridge.api.compat.httptrading.instances import instances_from, keep_instances
from tradebridge.api.compat.httptrading.router import BASE, router
from tradebridge.config import Settings


def install_httptrading(app: FastAPI, settings: Settings) -> None:
    """Serve the dialect's routes for the instances of `settings` (none: every id is 404).

    Each instance's `order/place` counts on its account's order rate limit, as placing an
    order through `/api/v1` does (`app.state.order_paths`, read by `RateLimits`)."""
    instances = instances_from(settings)
    keep_instances(app.state, instances)
    place = BASE + "/order/place"
    order_paths: dict[str, str] = getattr(app.state, "order_paths", {})
    app.state.order_paths = {
        **order_paths,
        **{place.format(instanceId=i.instance_id): i.account for i in instances.values()},
    }
    app.include_router(router)
