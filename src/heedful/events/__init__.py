"""eCommerce and custom events, stored against users, written through the group-commit writer."""
