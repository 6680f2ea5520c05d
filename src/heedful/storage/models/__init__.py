"""Every table. Importing this package imports every module in it, so Alembic and the tests
always see the whole schema; areas add a module here (one file per aggregate) and nothing else."""

from __future__ import annotations

import importlib
import pkgutil

from heedful.storage.models.base import Base
from heedful.storage.models.company import AccessToken, Application, Company, SignUpSource
from heedful.storage.models.job import Job

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["AccessToken", "Application", "Base", "Company", "Job", "SignUpSource"]
