"""Use cases of the oauth area, by topic; called by the HTTP layer, the CLI and tests alike.

- `tenants`: companies, applications, API keys, bearer-token lookup, `/me`
- `install`: the authorize request, consent, installations, authorization codes, uninstall
- `tokens`: the token exchange (authorization code → access token and id_token)
"""

from __future__ import annotations

from heedful.oauth.service.install import (
    AuthorizeRequest,
    ConsentView,
    approve,
    consent_view,
    sign_in,
    uninstall,
    validate_authorize,
)
from heedful.oauth.service.tenants import (
    API_KEY_PREFIX,
    DEV_APP_NAME,
    DEV_COMPANY_NAME,
    AuthContext,
    MeView,
    NewApplication,
    NewCompany,
    all_scopes,
    authenticate,
    check_redirect_uri,
    create_application,
    create_company,
    describe_me,
    find_application,
    find_company,
    issue_api_key,
    list_companies,
    revoke_token,
    rotate_client_secret,
    slug,
)
from heedful.oauth.service.tokens import IssuedToken, TokenRefused, TokenRequest, exchange_code

__all__ = [
    "API_KEY_PREFIX",
    "DEV_APP_NAME",
    "DEV_COMPANY_NAME",
    "AuthContext",
    "AuthorizeRequest",
    "ConsentView",
    "IssuedToken",
    "MeView",
    "NewApplication",
    "NewCompany",
    "TokenRefused",
    "TokenRequest",
    "all_scopes",
    "approve",
    "authenticate",
    "check_redirect_uri",
    "consent_view",
    "create_application",
    "create_company",
    "describe_me",
    "exchange_code",
    "find_application",
    "find_company",
    "issue_api_key",
    "list_companies",
    "revoke_token",
    "rotate_client_secret",
    "sign_in",
    "slug",
    "uninstall",
    "validate_authorize",
]
