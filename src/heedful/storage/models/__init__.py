"""Every table, imported here so Alembic and the tests see the whole schema."""

from heedful.storage.models.base import Base
from heedful.storage.models.company import AccessToken, Application, Company, SignUpSource
from heedful.storage.models.job import Job

__all__ = ["AccessToken", "Application", "Base", "Company", "Job", "SignUpSource"]
