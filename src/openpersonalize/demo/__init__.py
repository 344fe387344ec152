"""Bundled demo data: the AWS Retail Demo Store catalog (MIT-0) and seeded shopper interactions."""

from openpersonalize.demo.dataset import DemoData, load_demo_data, product_info

__all__ = ["DemoData", "load_demo_data", "product_info"]
