"""HTTP routes of the custom attributes area (an ingestion operation: heedful.http.ingestion)."""

from __future__ import annotations

from datetime import datetime

from starlette.routing import Route

from heedful.attributes import service
from heedful.attributes.schemas import CustomAttributesRequest
from heedful.http.ingestion import PendingWrite, ingestion


@ingestion("postCustomAttributes", CustomAttributesRequest)
def custom_attributes(
    company_id: int, body: CustomAttributesRequest, received_at: datetime
) -> PendingWrite:
    """Upsert attributes onto a user's profile."""
    return PendingWrite(service.set_batch, service.attribute_write(company_id, body))


routes = [Route("/attributes/custom", custom_attributes, methods=["POST"])]
