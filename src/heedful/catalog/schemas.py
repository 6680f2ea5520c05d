"""Wire models for the catalog area, named after the spec's DTOs."""

from __future__ import annotations

import msgspec


class CatalogUploadRequest(msgspec.Struct, frozen=True):
    validateOnly: bool = False


class CatalogUploadErrorResponse(msgspec.Struct, frozen=True):
    errorType: str
    errorMessage: str
    lineNum: int


class CatalogUploadResponse(msgspec.Struct, frozen=True):
    uploadId: str
    status: str
    errors: list[CatalogUploadErrorResponse]
    productsReceived: int
    productsProcessed: int
    lastUpdated: str
    expires: str
    uploadUrl: str
    validateOnly: bool
