"""Companies, applications, API keys, scopes, `/me`, and the OAuth install flow."""
