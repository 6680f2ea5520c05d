"""Companies, applications, API keys and access tokens, scopes, and `/me`."""
