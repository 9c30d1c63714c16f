"""The httptrading dialect (API.md §5, document 002): `/httptrading/api/{instanceId}/...` for
each account with an `httptrading_instance_id`, answered in httptrading's envelope."""

from fastapi import FastAPI

from tradebridge.api.compat.httptrading.instances import instances_from, keep_instances
from tradebridge.api.compat.httptrading.router import BASE, router
from tradebridge.api.compat.paths import count_orders
from tradebridge.config import Settings


def install_httptrading(app: FastAPI, settings: Settings) -> None:
    """Serve the dialect's routes for the instances of `settings` (none: every id is 404).

    Each instance's `order/place` counts on its account's order rate limit, as placing an
    order through `/api/v1` does."""
    instances = instances_from(settings)
    keep_instances(app.state, instances)
    place = BASE + "/order/place"
    for instance in instances.values():
        count_orders(app, "POST", place.format(instanceId=instance.instance_id), instance.account)
    app.include_router(router)
