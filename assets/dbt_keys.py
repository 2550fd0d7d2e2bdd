"""The asset keys of dbt models as the dbt layer makes them, for the deps of Python assets.

A Python asset that reads a dbt model names the model; its key comes from the dbt layer's translator
(assets/dbt_assets.py) applied to the model's manifest node, so the dep is the very asset the dbt layer
defines ([schema, model] per the issue-15 layout). Without a manifest the layout's rule is used:
["main", model].
"""

from __future__ import annotations

from typing import Any

import dagster as dg


def _manifest() -> dict[str, Any] | None:
    from assets.dbt_project import load_manifest

    try:
        return load_manifest()
    except (OSError, ValueError):
        return None


def model_keys(*names: str, only_present: bool = False) -> list[dg.AssetKey]:
    """The keys of the dbt models ``names``; with ``only_present`` the models the project does not define
    are left out (so lineage shows them only when they exist)."""
    manifest = _manifest()
    nodes = {
        node["name"]: unique_id
        for unique_id, node in (manifest or {}).get("nodes", {}).items()
        if node.get("resource_type") == "model"
    }
    if not nodes:
        return [] if only_present else [dg.AssetKey(["main", name]) for name in names]
    from assets.dbt_assets import WarehouseTranslator  # the dbt layer's keys (its module needs the manifest)

    translator = WarehouseTranslator()
    keys = []
    for name in names:
        if name in nodes:
            keys.append(translator.get_asset_spec(manifest, nodes[name], None).key)
        elif not only_present:
            keys.append(dg.AssetKey(["main", name]))
    return keys
