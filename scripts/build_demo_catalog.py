"""Build the bundled demo catalog from the AWS Retail Demo Store data (MIT-0).

Reads ``products.yaml`` and ``users.json.gz`` from a copy of aws-samples/retail-demo-store and
writes compact, byte-reproducible files into ``src/openpersonalize/demo/catalog/``:

- ``products.csv.gz``: ITEM_ID, NAME, CATEGORY, STYLE, PRICE, GENDER_AFFINITY, DESCRIPTION, IMAGE
  for the products shown in the store's web UI (the few Alexa-only convenience-store items have no
  shopper persona and are left out); descriptions are shortened to at most 300 characters.
- ``users.csv.gz``: USER_ID, AGE, GENDER, PERSONA, DISCOUNT_PERSONA for every synthetic user.
- ``NOTICE.md``: where the data comes from and its licence.

Usage: ``python scripts/build_demo_catalog.py [--source DIR] [--out DIR]``. Needs PyYAML, which
only this script uses (the package reads the generated CSVs).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import yaml

SOURCE_REPOSITORY = "aws-samples/retail-demo-store"
SOURCE_COMMIT = "ad4313e648d51d5f0be20f45d46a9fb8e3a6464d"
DEFAULT_SOURCE = Path("/work/shared/data/retail-demo-store")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "openpersonalize" / "demo" / "catalog"
DESCRIPTION_MAX_CHARS = 300
CATEGORY_FILE = "categories.yaml"

PRODUCT_COLUMNS = ("ITEM_ID", "NAME", "CATEGORY", "STYLE", "PRICE", "GENDER_AFFINITY", "DESCRIPTION", "IMAGE")
USER_COLUMNS = ("USER_ID", "AGE", "GENDER", "PERSONA", "DISCOUNT_PERSONA")

MIT_0 = """\
Copyright Amazon.com, Inc. or its affiliates. All Rights Reserved.

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def shorten(text: str, limit: int = DESCRIPTION_MAX_CHARS) -> str:
    """Collapse whitespace; past ``limit`` characters cut at a sentence end, else a word, adding '…'."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    head = text[:limit]
    sentence_end = head.rfind(". ")
    if sentence_end >= limit // 2:
        return head[: sentence_end + 1]
    return head[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def product_rows(products: list[dict[str, Any]], categories: set[str]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for product in products:
        if product.get("where_visible", "UI") != "UI":
            continue
        if product["category"] not in categories:
            raise SystemExit(f"product {product['id']} has unknown category {product['category']!r}")
        rows.append(
            (
                product["id"],
                product["name"].strip(),
                product["category"],
                product["style"],
                f"{float(product['price']):.2f}",
                product.get("gender_affinity") or "",
                shorten(product.get("description") or ""),
                product.get("image") or "",
            )
        )
    ids = [row[0] for row in rows]
    if len(set(ids)) != len(ids):
        raise SystemExit("products.yaml has duplicate product ids")
    return rows


def user_rows(users: list[dict[str, Any]], categories: set[str]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for user in users:
        persona = user["persona"]
        unknown = [c for c in persona.split("_") if c not in categories]
        if unknown or persona.count("_") != 2:
            raise SystemExit(f"user {user['id']} has an unexpected persona {persona!r}")
        rows.append((str(user["id"]), int(user["age"]), user["gender"], persona, user["discount_persona"]))
    return rows


def write_gzipped_csv(path: Path, header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    # mtime=0 and no file name in the gzip header: rebuilding from the same input gives the same bytes.
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(text.getvalue().encode("utf-8"))


def notice(n_products: int, n_users: int) -> str:
    return f"""# Demo catalog: AWS Retail Demo Store

The files in this folder are derived from the synthetic product catalog and user personas of
[{SOURCE_REPOSITORY}](https://github.com/{SOURCE_REPOSITORY}), commit `{SOURCE_COMMIT}`
(`src/products/data/products.yaml`, `src/users/src/users-service/data/users.json.gz`), which is
licensed under the MIT No Attribution licence (MIT-0). Thanks to its authors.

- `products.csv.gz`: {n_products} products shown in the store's web UI (ITEM_ID, NAME, CATEGORY,
  STYLE, PRICE, GENDER_AFFINITY, DESCRIPTION shortened to at most {DESCRIPTION_MAX_CHARS} characters,
  IMAGE file name).
- `users.csv.gz`: {n_users} synthetic users (USER_ID, AGE, GENDER, PERSONA = three preferred
  categories, DISCOUNT_PERSONA). All people in it are fictitious.

No interactions are bundled: `openpersonalize.demo.dataset` generates them from the personas.
Regenerate these files with `python scripts/build_demo_catalog.py`.

## Licence of the source data (MIT-0)

{MIT_0}"""


def build(source: Path, out: Path) -> dict[str, int]:
    products = yaml.safe_load((source / "products.yaml").read_text(encoding="utf-8"))
    category_list = yaml.safe_load((source / CATEGORY_FILE).read_text(encoding="utf-8"))
    with gzip.open(source / "users.json.gz", "rt", encoding="utf-8") as f:
        users = json.load(f)
    categories = {c["name"] for c in category_list}

    products_out = product_rows(products, categories)
    users_out = user_rows(users, categories)
    out.mkdir(parents=True, exist_ok=True)
    write_gzipped_csv(out / "products.csv.gz", PRODUCT_COLUMNS, products_out)
    write_gzipped_csv(out / "users.csv.gz", USER_COLUMNS, users_out)
    (out / "NOTICE.md").write_text(notice(len(products_out), len(users_out)), encoding="utf-8")
    return {"products": len(products_out), "users": len(users_out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="retail-demo-store data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the catalog files")
    args = parser.parse_args()
    counts = build(args.source, args.out)
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir())}
    print(f"wrote {counts['products']} products and {counts['users']} users to {args.out}: {sizes}")


if __name__ == "__main__":
    main()
