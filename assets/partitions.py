"""Dynamic partitions whose keys come from the warehouse or the sources file.

Repositories are discovered, so the assets partitioned by repository use Dagster's dynamic partitions.
Their keys are not stored anywhere Dagster would find them on a fresh instance, so each dynamic partitions
definition has a function that lists its keys from what the project already knows: a warehouse query or
the sources file. ``DynamicPartitions`` holds those definitions and functions; it is built once per
code location (assets.definitions.build_partitions) and handed to the stages that partition by it, to the
headless CLI (which calls ``sync`` right before a partitioned step runs, after its upstream assets ran
in the same process) and to the sensor that does the same for `dagster dev`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import dagster as dg

log = logging.getLogger("datasmith")

# function(db_path) listing a definition's partition keys (it must cope with a warehouse not built yet)
KeysFunction = Callable[[Path], list[str]]


@dataclass(frozen=True)
class DynamicPartitions:
    """Dynamic partitions definitions by name, each with the function that lists its keys."""

    keys_from: Mapping[str, KeysFunction] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys_from", MappingProxyType(dict(self.keys_from)))

    def definition(self, name: str) -> dg.DynamicPartitionsDefinition:
        """The DynamicPartitionsDefinition ``name``, whose keys ``keys_from[name](db_path)`` lists."""
        if name not in self.keys_from:
            raise KeyError(
                f"no dynamic partitions named {name!r}; known: {', '.join(sorted(self.keys_from))}"
            )
        return dg.DynamicPartitionsDefinition(name=name)

    def sync(self, instance: dg.DagsterInstance, name: str, db_path: Path) -> list[str]:
        """Add the keys the project knows of to the instance (never removes any); returns all keys."""
        keys_from = self.keys_from.get(name)
        if keys_from is not None:
            known = set(instance.get_dynamic_partitions(name))
            new = [key for key in keys_from(Path(db_path)) if key not in known]
            if new:
                instance.add_dynamic_partitions(name, new)
                log.info(f"{len(new)} new partitions of {name}")
        return list(instance.get_dynamic_partitions(name))

    def partition_keys(
        self, definition: dg.AssetsDefinition, instance: dg.DagsterInstance, db_path: Path
    ) -> list[str]:
        partitions_def = definition.partitions_def
        if isinstance(partitions_def, dg.DynamicPartitionsDefinition) and partitions_def.name:
            return self.sync(instance, partitions_def.name, db_path)
        return list(partitions_def.get_partition_keys(dynamic_partitions_store=instance))

    def sensor(self, db_path: Path) -> dg.SensorDefinition:
        """For `dagster dev`: keeps every dynamic partitions definition here in step with the project."""
        keys_from = self.keys_from

        @dg.sensor(
            name="sync_dynamic_partitions",
            minimum_interval_seconds=60,
            default_status=dg.DefaultSensorStatus.RUNNING,
        )
        def sync(context: dg.SensorEvaluationContext):
            added = []
            for name, function in keys_from.items():
                known = set(context.instance.get_dynamic_partitions(name))
                new = [key for key in function(Path(db_path)) if key not in known]
                if new:
                    added.append(dg.AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=new))
            return (
                dg.SensorResult(dynamic_partitions_requests=added)
                if added
                else dg.SkipReason("no new partitions")
            )

        return sync
