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


# The metadata key of a step's Failure that names each partition that failed with its cause in one line
# (assets.cli reports one line per failed partition from it).
FAILED_PARTITIONS = "failed_partitions"

# Loads one partition; returns the metadata of each asset it materialised, by asset key.
PartitionLoad = Callable[[str], Mapping[tuple[str, ...], Mapping]]


def one_line(exc: BaseException) -> str:
    """An exception in one line: a dg.Failure's description, a builtin's `KeyError: 'x'`, else the message."""
    if isinstance(exc, dg.Failure):
        text = exc.description or type(exc).__name__
    elif type(exc).__module__ == "builtins":
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def materialize_each_partition(context: dg.AssetExecutionContext, load: PartitionLoad):
    """Run ``load`` for every partition of the run, one after another, and yield what the asset
    materialised. A run covers one partition or a range of them (the assets that use this declare
    ``BackfillPolicy.single_run()``, so `datasmith materialize` and a backfill load all of a definition's
    partitions in one run, without Dagster's fixed cost of a run per partition).

    Every partition runs even when one fails. When all succeed, each asset gets one MaterializeResult for
    the run: its metadata is the partition's own for a one-partition run, else the per-partition metadata
    under ``partitions`` with the numbers summed. When some fail, the ones that loaded are recorded as
    materialised, partition by partition, and the step then fails with a Failure whose metadata
    (FAILED_PARTITIONS) names each failed partition with its cause in one line; the first failure's
    exception is its cause (its traceback is in Dagster's log)."""
    done: dict[str, Mapping[tuple[str, ...], Mapping]] = {}
    failed: dict[str, BaseException] = {}
    for partition in context.partition_keys:
        try:
            done[partition] = load(partition)
        except (
            Exception
        ) as exc:  # every partition runs; Dagster's interrupt (a BaseException) does not stop here
            failed[partition] = exc
            context.log.error(f"{partition}: {one_line(exc)}")
    if not failed:
        keys = dict.fromkeys(key for outputs in done.values() for key in outputs)
        for key in keys:
            by_partition = {p: outputs[key] for p, outputs in done.items() if key in outputs}
            if len(by_partition) == 1:
                metadata = dict(next(iter(by_partition.values())))
            else:
                metadata = _summed(by_partition)
            yield dg.MaterializeResult(asset_key=list(key), metadata=metadata)
        return
    for partition, outputs in done.items():
        for key, metadata in outputs.items():
            context.log_event(
                dg.AssetMaterialization(asset_key=list(key), partition=partition, metadata=metadata)
            )
    causes = {partition: one_line(exc) for partition, exc in failed.items()}
    raise dg.Failure(
        description="; ".join(f"{partition}: {cause}" for partition, cause in causes.items()),
        metadata={FAILED_PARTITIONS: dg.MetadataValue.json(causes)},
        allow_retries=False,
    ) from next(iter(failed.values()))


def _summed(by_partition: Mapping[str, Mapping]) -> dict:
    """The numbers of every partition's metadata summed, and each partition's own under `partitions`."""
    totals: dict[str, int | float] = {}
    for metadata in by_partition.values():
        for name, value in metadata.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                totals[name] = totals.get(name, 0) + value
    plain = {
        partition: {name: _plain(value) for name, value in metadata.items()}
        for partition, metadata in by_partition.items()
    }
    return {**totals, "partitions": dg.MetadataValue.json(plain)}


def _plain(value):
    value = getattr(value, "value", value)  # a MetadataValue's own value
    return value if isinstance(value, int | float | str | bool) or value is None else str(value)
