"""Subscriptions: sign-up sources, subscribe / eligibility / unsubscribe, the opt-in flow."""
