"""Custom attributes on user profiles: typed upserts and `custom_attribute.set` webhooks."""
