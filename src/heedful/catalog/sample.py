"""Valid catalog lines: the spec's example product and a realistic generator (CLI, bench)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import msgspec

_STAMP = "2021-10-05T18:08:28+00:00"


def example_product() -> dict[str, Any]:
    """The spec's formatted example (Nasa T-Shirt), as valid JSON (the spec's has trailing
    commas)."""
    link = "https://www.google.com"

    def variant(variant_id: str, color: str, size: str, position: int) -> dict[str, Any]:
        return {
            "name": f"Nasa T-Shirt - {color} - {size}",
            "id": variant_id,
            "position": position,
            "prices": [{"currencyCode": "USD", "amount": "10.00"}],
            "availableForPurchase": True,
            "productOptionValues": [
                {"productOptionName": "Color", "value": color},
                {"productOptionName": "Size", "value": size},
            ],
            "link": link,
            "lastUpdated": _STAMP,
        }

    return {
        "name": "Nasa T-Shirt",
        "id": "PD-123",
        "description": "A very popular T-Shirt",
        "brand": "NASA",
        "link": link,
        "lastUpdated": _STAMP,
        "categories": ["Shirts"],
        "tags": ["Summer Sale", "Space"],
        "productOptions": [
            {"name": "Color", "position": 0, "values": ["Blue", "Black"]},
            {"name": "Size", "position": 1, "values": ["Small", "Medium", "Large"]},
        ],
        "images": [
            {
                "src": link,
                "alt": "Picture of Nasa T-Shirt in Blue",
                "position": 0,
                "height": 250,
                "width": 400,
                "variantIds": ["VD-234"],
            },
            {
                "src": link,
                "alt": "Another Picture of Nasa T-Shirt in Black",
                "position": 0,
                "height": 250,
                "width": 400,
                "variantIds": ["VD-235", "VD-236"],
            },
        ],
        "attributes": [{"name": "Fabric", "value": "Cotton"}],
        "variants": [
            variant("VD-234", "Blue", "Small", 0),
            variant("VD-235", "Black", "Medium", 1),
            variant("VD-236", "Black", "Large", 2),
        ],
    }


_COLORS = ["Red", "Blue", "Black", "White", "Green", "Navy", "Grey", "Olive"]
_SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
_WORDS = ["Classic", "Organic", "Vintage", "Slim", "Relaxed", "Everyday", "Premium", "Travel"]
_KINDS = ["T-Shirt", "Hoodie", "Jacket", "Sneaker", "Cap", "Backpack", "Dress", "Sock"]


def generate_product(number: int, rng: random.Random) -> dict[str, Any]:
    """A realistic product: 3-5 variants, images, two options, attributes, categories."""
    product_id = f"P-{number:07d}"
    name = f"{rng.choice(_WORDS)} {rng.choice(_KINDS)} {number}"
    link = f"https://shop.example.com/products/{product_id.lower()}"
    colors = rng.sample(_COLORS, 2)
    sizes = rng.sample(_SIZES, 3)
    count = rng.randint(3, 5)
    price = f"{rng.randint(5, 300)}.{rng.randint(0, 99):02d}"
    variants = []
    for index in range(count):
        color, size = colors[index % 2], sizes[index % 3]
        variants.append(
            {
                "id": f"{product_id}-V{index}",
                "name": f"{name} - {color} - {size}",
                "position": index,
                "prices": [{"currencyCode": "USD", "amount": price}],
                "availableForPurchase": rng.random() > 0.1,
                "inventoryQuantity": rng.randint(0, 500),
                "productOptionValues": [
                    {"productOptionName": "Color", "value": color},
                    {"productOptionName": "Size", "value": size},
                ],
                "link": f"{link}?variant={index}",
                "lastUpdated": _STAMP,
            }
        )
    return {
        "id": product_id,
        "name": name,
        "description": f"The {name.lower()}: comfortable, durable and made to last.",
        "brand": "Heedful Goods",
        "link": link,
        "lastUpdated": _STAMP,
        "categories": ["Apparel", rng.choice(_KINDS)],
        "tags": ["new", rng.choice(_WORDS).lower()],
        "productOptions": [
            {"name": "Color", "position": 0, "values": colors},
            {"name": "Size", "position": 1, "values": sizes},
        ],
        "images": [
            {
                "src": f"https://cdn.example.com/img/{product_id}-{index}.jpg",
                "alt": f"{name} picture {index}",
                "position": index,
                "width": 800,
                "height": 800,
                "variantIds": [variants[index]["id"]],
            }
            for index in range(2)
        ],
        "attributes": [
            {"name": "Material", "value": rng.choice(["Cotton", "Wool", "Polyester"])},
            {"name": "Season", "value": rng.choice(["Spring", "Summer", "Fall", "Winter"])},
        ],
        "variants": variants,
    }


def generate_lines(count: int, seed: int = 7, start: int = 1) -> Iterator[bytes]:
    rng = random.Random(seed)
    encoder = msgspec.json.Encoder()
    for number in range(start, start + count):
        yield encoder.encode(generate_product(number, rng))
