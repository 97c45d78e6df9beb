"""What is sold: the public description of the product, from configuration only."""

from __future__ import annotations

from shared.config import RuntimeConfig


def product_document(config: RuntimeConfig) -> dict:
    return {
        "product": config.product_name,
        "version": config.product_version,
        "dimensions": [
            {
                "name": d.name,
                "unit": d.unit,
                "description": d.description,
                "price_per_unit": str(d.price_per_unit),
            }
            for d in config.dimensions
        ],
        "grace_days": config.grace_days,
    }


def health_document(config: RuntimeConfig) -> dict:
    return {"status": "ok", "product": config.product_name, "version": config.product_version}
