"""DataSmith's dataset: read the warehouse as tasks (see dataset.api)."""


def __getattr__(name: str):
    # Lazy: importing the package must not pull in pandas.
    if name in ("Dataset", "Task"):
        from dataset import api

        return getattr(api, name)
    if name == "DATASET_DDL":
        from dataset.ddl import DATASET_DDL

        return DATASET_DDL
    raise AttributeError(name)


__all__ = ["DATASET_DDL", "Dataset", "Task"]
