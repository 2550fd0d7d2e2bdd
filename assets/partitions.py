"""Dynamic partitions whose keys come from the warehouse or the sources file.

Repositories are discovered, so the assets partitioned by repository use Dagster's dynamic partitions.
Their keys are not stored anywhere Dagster would find them on a fresh instance (`datasmith materialize`
runs on an ephemeral one), so each dynamic partitions definition made here names a function that lists
its keys from what the project already knows: a warehouse query or the sources file. The headless CLI
calls `sync_dynamic_partitions` right before a partitioned step runs (after its upstream assets ran in
the same process), and `partitions_sensor` does the same for `dagster dev`.
"""

import logging
from collections.abc import Callable
from pathlib import Path

import dagster as dg

log = logging.getLogger("datasmith")

# name -> function(db_path) listing the partition keys (it must cope with a warehouse not built yet)
KeysFunction = Callable[[Path], list[str]]
_KEYS_FROM: dict[str, KeysFunction] = {}


def dynamic_partitions(name: str, keys_from: KeysFunction) -> dg.DynamicPartitionsDefinition:
    """A DynamicPartitionsDefinition whose keys `keys_from(db_path)` lists."""
    _KEYS_FROM[name] = keys_from
    return dg.DynamicPartitionsDefinition(name=name)


def sync_dynamic_partitions(instance: dg.DagsterInstance, name: str, db_path: Path) -> list[str]:
    """Add the keys the project knows of to the instance (never removes any); returns all keys."""
    keys_from = _KEYS_FROM.get(name)
    if keys_from is not None:
        known = set(instance.get_dynamic_partitions(name))
        new = [key for key in keys_from(Path(db_path)) if key not in known]
        if new:
            instance.add_dynamic_partitions(name, new)
            log.info(f"{len(new)} new partitions of {name}")
    return list(instance.get_dynamic_partitions(name))


def partition_keys(definition: dg.AssetsDefinition, instance: dg.DagsterInstance, db_path: Path) -> list[str]:
    partitions_def = definition.partitions_def
    if isinstance(partitions_def, dg.DynamicPartitionsDefinition) and partitions_def.name:
        return sync_dynamic_partitions(instance, partitions_def.name, db_path)
    return list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))


def partitions_sensor(db_path: Path) -> dg.SensorDefinition:
    """For `dagster dev`: keeps every registered dynamic partitions definition in step with the project."""

    @dg.sensor(
        name="sync_dynamic_partitions",
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def sync(context: dg.SensorEvaluationContext):
        added = []
        for name, keys_from in _KEYS_FROM.items():
            known = set(context.instance.get_dynamic_partitions(name))
            new = [key for key in keys_from(Path(db_path)) if key not in known]
            if new:
                added.append(dg.AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=new))
        return (
            dg.SensorResult(dynamic_partitions_requests=added)
            if added
            else dg.SkipReason("no new partitions")
        )

    return sync
